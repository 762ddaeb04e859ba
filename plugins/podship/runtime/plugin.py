"""What a plugin is to the pipeline: one descriptor, declared next to the plugin's code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podship.runtime.options import OptionTable
from podship.runtime.source import Item
from podship.runtime.storage import StorageWatch


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
