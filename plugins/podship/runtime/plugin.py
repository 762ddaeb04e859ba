"""What a plugin is to the pipeline: one descriptor, declared next to the plugin's code, and the
protocols an input and an output implement. The engine knows a plugin only through these."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, Protocol, TypeVar

from podship.core.connector import Stats
from podship.core.coverage import Coverage
from podship.core.event.envelope import Event
from podship.core.rules import Decision
from podship.errors import PodshipError
from podship.runtime.options import OptionTable
from podship.runtime.storage import StorageWatch

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class Input(Protocol):
    """An input: started before anything runs, it runs until `stopping` is set, hears which of its
    records were delivered or set aside, and says how it is doing."""

    name: str
    kind: str
    stopping: asyncio.Event
    failure: PodshipError | None  # set when it stopped for a reason no retry can mend

    async def start(self) -> None:
        """What can fail at start-up (an address in use), so that a failed start is one line."""

    async def run(self) -> None: ...

    def acked(self, pairs: list[tuple[str, int]]) -> None:
        """Every output has these (event id, event time) pairs."""

    def commit(self, *, final: bool = False) -> None:
        """Persist progress (a StorageError: the pipeline tries again); `final` after a clean stop."""

    async def set_aside(self, reason: str, record: dict[str, Any]) -> None:
        """A record of this input that a filter or an output could not take (`Event.letter`):
        into the dead-letter file (held, like every state write, until the disk takes it),
        counted; it counts as delivered all the same."""

    def pending(self) -> int:
        """Records received and not yet delivered (fetched or sent again after a restart)."""

    def status(self) -> InputStatus:
        """How it is doing, for `/status`, `/metrics` and the status line."""


@dataclass(frozen=True)
class InputStatus:
    """What an input reports; the engine words it. `now_ms` is the clock its lag is measured on: the
    PoD server's, learned from its handshake (a simulator's clock, or a skewed host, would otherwise
    show a lag of days); `coverage`, for an input that repairs holes from an archive."""

    mode: str
    stats: Stats
    now_ms: int
    coverage: Coverage | None = None


class Filter(Protocol):
    """A filter: it decides on each event (keep or drop, tags, edits) and re-reads what it reads
    on SIGHUP (False: it kept what it had, and said why)."""

    def decide(self, event: Event) -> Decision: ...

    def reload(self) -> bool: ...


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
    once: bool = False  # `run --once`: an input stops once caught up with the present


Shape = TypeVar("Shape", bound="DataclassInstance")  # a plugin's options class (its table's shape)
Built = TypeVar("Built", Input, Filter, Output)  # what a plugin builds: one of the three


@dataclass(frozen=True)
class Plugin(Generic[Shape, Built]):
    """One plugin: its name in the pipeline file, its section, its options table (whose `shape` is
    the frozen options class its values become), its cross-option check (`check(options, file)`,
    raising ConfigError, returning them completed: a default alias, a key read from its file) and
    how it is built from its validated options: an Input, a Filter or an Output (mypy checks what
    `build` returns against that protocol, and what `build` and `check` take against the table's
    class, where the plugin declares its PLUGIN)."""

    name: str
    section: str  # inputs, filters or outputs
    options: OptionTable[Shape]
    build: Callable[[Site, Shape], Built]
    check: Callable[[Shape, str], Shape] | None = None
    listens: Callable[[Shape], tuple[str, int, str]] | None = None  # host, port, option: a server's

    def checked(self, values: object, file: str) -> Shape:
        own = self.options.own(values)
        return own if self.check is None else self.check(own, file)

    def listening(self, values: object) -> tuple[str, int, str] | None:
        """Where the plugin will listen (host, port and the option that names the host), if it
        is a server: what `podship check` verifies resolves before a start."""
        return None if self.listens is None else self.listens(self.options.own(values))

    def built(self, site: Site, values: object) -> Built:
        return self.build(site, self.options.own(values))


Built_co = TypeVar("Built_co", covariant=True)


class Registered(Protocol[Built_co]):
    """A plugin as the registry and the engine hold it, whatever the class of its options: they
    hand each plugin back the options its own table validated (another plugin's options are a
    TypeError), and get back what it builds, typed per section (`Registered[Input]`)."""

    @property
    def name(self) -> str: ...

    @property
    def section(self) -> str: ...

    @property
    def options(self) -> OptionTable[DataclassInstance]: ...

    def checked(self, values: object, file: str) -> object: ...

    def listening(self, values: object) -> tuple[str, int, str] | None: ...

    def built(self, site: Site, values: object) -> Built_co: ...
