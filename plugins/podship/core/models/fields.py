"""What the models share beside the event readers (core/event/readers.py): the original's text."""

from __future__ import annotations

from typing import Any

from podship.core.encode_json import RawJSON, dumps
from podship.core.records import ORIGINAL_KEY, Record, original


def event_and_text(record: Record) -> tuple[dict[str, Any], str]:
    """The original event, and its JSON text: the text the record carries where it still holds
    it unparsed (no second encoding), else the event encoded."""
    carried = record.get(ORIGINAL_KEY)
    text = carried.text.decode("utf-8", "replace") if type(carried) is RawJSON else None
    event = original(record)
    return event, text if text is not None else dumps(event).decode()
