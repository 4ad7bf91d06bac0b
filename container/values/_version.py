"""The version of servicewire, at the bottom so that any layer may name it."""

__version__ = "0.3.0"
"""The version of servicewire (the same as setup.cfg's)."""
