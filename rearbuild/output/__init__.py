"""Output methods: the artefacts a rescue system is delivered in (ISO, PXE, USB, OBDR)."""
