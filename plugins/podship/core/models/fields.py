"""What the models share beside the event readers (core/event/readers.py): the original's text."""

from __future__ import annotations

from typing import Any

from podship.core.event.envelope import Event


def event_and_text(event: Event) -> tuple[dict[str, Any], str]:
    """The PoD event, and its JSON text: the text it arrived as (the frame's own where the inputs
    carry it raw, else the event without blanks) where no rule edited it, else the event encoded."""
    return event.body, event.json().decode("utf-8", "replace")
