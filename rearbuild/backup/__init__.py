"""Backup methods: one module per BACKUP method (what it adds to the rescue image, backup(), restore())."""
