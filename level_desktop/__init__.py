"""Level: see the shape of a text dataset as a landscape, and level it."""

__version__ = "0.1.0"
