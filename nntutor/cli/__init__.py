"""The ``nntutor`` command line (the only package that imports Typer; nothing imports it)."""

from nntutor.cli.app import main, make_app

__all__ = ["main", "make_app"]
