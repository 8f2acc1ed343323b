"""Configuration: ReaR's layered bash configuration files, evaluated by bash, read back as typed values."""

from rearbuild.config.model import Config, Setting, Value

__all__ = ["Config", "Setting", "Value"]
