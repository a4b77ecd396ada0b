"""The package version, in a module of its own so that checkpoints and the CLI can record it without
importing the package's public namespace."""

__version__ = "0.1.0"
