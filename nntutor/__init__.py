"""nntutor: learn how neural networks compute by watching every number being computed."""

__version__ = "0.1.0"
