"""The version of keras-losses: written here only (setup.py reads this file without importing the package)."""

__version__ = "0.1.0"
