"""Readers the models share (the lenient ones of core/records.py serve the rest)."""

from __future__ import annotations

from typing import Any

from podship.core.encode_json import RawJSON, dumps
from podship.core.records import ORIGINAL_KEY, Record, dig, original


def section(event: Any, *path: str) -> dict[str, Any]:
    """The map at `path`, or an empty one: PoD sections change shape across versions."""
    found = dig(event, *path)
    return found if isinstance(found, dict) else {}


def event_and_text(record: Record) -> tuple[dict[str, Any], str]:
    """The original event, and its JSON text: the text the record carries where it still holds
    it unparsed (no second encoding), else the event encoded."""
    carried = record.get(ORIGINAL_KEY)
    text = carried.text.decode("utf-8", "replace") if type(carried) is RawJSON else None
    event = original(record)
    return event, text if text is not None else dumps(event).decode()
