"""Collectors: what a recovery needs, read from a host (or a sysroot) into the manifest."""
