"""What the pipeline needs of an input, and the unit that travels from inputs to outputs."""

from __future__ import annotations

import asyncio
from typing import Any, NamedTuple, Protocol

from podship.core.event.envelope import Event
from podship.errors import PodshipError


class Source(Protocol):
    """An input: it runs until `stopping` is set, and hears which of its records were delivered
    or set aside."""

    name: str
    kind: str
    stopping: asyncio.Event
    failure: PodshipError | None

    async def run(self) -> None: ...

    def acked(self, pairs: list[tuple[str, int]]) -> None: ...

    def commit(self, *, final: bool = False) -> None: ...

    async def set_aside(self, reason: str, record: dict[str, Any]) -> None:
        """A record of this input that a filter or an output could not take (`Event.letter`):
        into the dead-letter file (held, like every state write, until the disk takes it),
        counted; it counts as delivered all the same."""

    def pending(self) -> int:
        """Records received and not yet delivered (fetched or sent again after a restart)."""


class Item(NamedTuple):
    """An event on its way to the outputs, and whom to tell once they all have it (`event_id`
    is the input's key for it, which a relay numbers itself)."""

    event: Event
    source: Source
    event_id: str
    ts: int
