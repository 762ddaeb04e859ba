"""What a plugin is to the pipeline: one descriptor, declared next to the plugin's code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from podship.runtime.options import OptionTable
from podship.runtime.source import Item
from podship.runtime.storage import StorageWatch

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Shape = TypeVar("Shape", bound="DataclassInstance")


@dataclass(frozen=True)
class Site:
    """What a plugin is built with, besides its own options."""

    state_dir: Path
    emit: Callable[[Item], Awaitable[None]]  # inputs hand records to the pipeline through this
    dead_letter_max_bytes: int
    env: Mapping[str, str]
    storage: StorageWatch = field(default_factory=StorageWatch)  # whose state writes fail, for all


@dataclass(frozen=True)
class Plugin(Generic[Shape]):
    """One plugin: its name in the pipeline file, its section, its options, its cross-option check
    (`check(options, file)`, raising ConfigError, returning them completed: a default alias, a key
    read from its file) and how it is built from its validated options."""

    name: str
    section: str  # inputs, filters or outputs
    options: OptionTable[Shape]
    build: Callable[[Site, Shape], Any]
    check: Callable[[Shape, str], Shape] | None = None

    def checked(self, values: object, file: str) -> Shape:
        own = self.options.own(values)
        return own if self.check is None else self.check(own, file)

    def built(self, site: Site, values: object) -> Any:
        return self.build(site, self.options.own(values))


class Registered(Protocol):
    """A plugin as the registry and the pipeline hold it, whatever the class of its options: they
    hand each plugin back the options its own table validated."""

    @property
    def name(self) -> str: ...

    @property
    def section(self) -> str: ...

    @property
    def options(self) -> OptionTable[DataclassInstance]: ...

    def checked(self, values: object, file: str) -> object: ...

    def built(self, site: Site, values: object) -> Any: ...
