"""Lore: a language server that brings a team's written knowledge into the editor."""

from lore._native import __version__

__all__ = ["__version__"]
