"""rearbuild: disaster recovery in the design of Relax-and-Recover, built as a rescue-image factory."""

__version__ = "0.1.0"
