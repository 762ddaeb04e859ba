"""The `podship` command."""

from podship.cli.main import main

__all__ = ["main"]
