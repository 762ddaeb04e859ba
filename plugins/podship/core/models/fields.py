"""Readers the models share (the lenient ones of core/records.py serve the rest)."""

from __future__ import annotations

from typing import Any

from podship.core.records import dig


def section(event: Any, *path: str) -> dict[str, Any]:
    """The map at `path`, or an empty one: PoD sections change shape across versions."""
    found = dig(event, *path)
    return found if isinstance(found, dict) else {}
