"""What a plugin is to the pipeline: one descriptor, declared next to the plugin's code, and the
protocols an input and an output implement. The engine knows a plugin only through these."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from podship.core.event.envelope import Event
from podship.errors import PodshipError
from podship.runtime.options import OptionTable
from podship.runtime.storage import StorageWatch


class Input(Protocol):
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
    source: Input
    event_id: str
    ts: int


class Encoded(NamedTuple):
    """One record as the output sends it; `group` is what the output batches by (a Forward tag)."""

    data: bytes
    group: str = ""


class Output(Protocol):
    name: str
    tags: frozenset[str]  # empty: every record; else only records tagged with one of these
    reconnect_max: float  # the longest wait between two attempts

    async def start(self) -> None: ...

    def encode(self, event: Event) -> Encoded:
        """The event rendered in the output's model, as wire bytes."""

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        """One attempt at the whole batch; `attempt` 0 is a new batch, more is the same one again."""

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Site:
    """What a plugin is built with, besides its own options."""

    state_dir: Path
    emit: Callable[[Item], Awaitable[None]]  # inputs hand records to the pipeline through this
    dead_letter_max_bytes: int
    env: Mapping[str, str]
    storage: StorageWatch = field(default_factory=StorageWatch)  # whose state writes fail, for all


@dataclass(frozen=True)
class Plugin:
    """One plugin: its name in the pipeline file, its section, its options, its cross-option check
    (`check(values, file)`, raising ConfigError) and how it is built from validated values."""

    name: str
    section: str  # inputs, filters or outputs
    options: OptionTable
    build: Callable[[Site, dict[str, Any]], Any]
    check: Callable[[dict[str, Any], str], None] | None = None
