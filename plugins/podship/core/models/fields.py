"""What the models share beside the event readers (core/event/readers.py): the original's text."""

from __future__ import annotations

from typing import Any

from podship.core.encode_json import dumps
from podship.core.event.envelope import Event


def event_and_text(event: Event) -> tuple[dict[str, Any], str]:
    """The PoD event, and its JSON text: the frame's own text where the inputs carry it raw and
    no rule edited it, else the event encoded (compact where the inputs carry it so)."""
    if event.text and not event.edited and event.context.get("original") == "raw":
        return event.body, event.text.decode("utf-8", "replace")
    return event.body, dumps(event.body).decode()
