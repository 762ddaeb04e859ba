"""Every PoD event the model, privacy and golden tests run over: the public fixtures (Elastic's and
Datadog's sample events), podship's own odd shapes, and the simulator's events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from podship.devtools.simgen import Timeline

FIXTURES = Path(__file__).resolve().parent / "fixtures"
_FILES = {  # (folder, file): kind
    ("elastic", "message.log"): "message",
    ("elastic", "mail.log"): "maillog",
    ("elastic", "audit.log"): "audit",
    ("public", "datadog-message.log"): "message",
    ("shapes", "message.log"): "message",
    ("shapes", "maillog.log"): "maillog",
    ("shapes", "audit.log"): "audit",
}
KINDS = ("message", "maillog", "audit")
SIMULATED = 30  # per kind: every disposition, direction, action and shape simgen makes


def fixture_events() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(name, kind, event) for every line of every fixture file."""
    for (folder, file), kind in _FILES.items():
        for number, line in enumerate((FIXTURES / folder / file).read_text().splitlines(), 1):
            yield f"{folder}/{file}:{number}", kind, json.loads(line)


def simulated_events() -> Iterator[tuple[str, str, dict[str, Any]]]:
    line = Timeline(seed=11)
    for kind in KINDS:
        for k in range(SIMULATED):
            yield f"simgen:{kind}:{k}", kind, line.event(kind, k)


def all_events() -> Iterator[tuple[str, str, dict[str, Any]]]:
    yield from fixture_events()
    yield from simulated_events()
