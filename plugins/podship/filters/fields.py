"""Which field paths the records of a model have: what `podship rules check` and `rules export`
check a rules file's fields against, so that a rule written for the wrong model is said, not
silently never matched (in podship or in the collector the export goes to).

syslog_index: the top-level fields of the shipped JSON Schema (below them, the original event and
a few maps are free-form). ocsf and ecs: every path of the simulator's events rendered into the
model, which covers what the mappings write for the shapes PoD sends.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from podship.core.models import DEFAULT, MODELS
from podship.core.pod import TYPES, event_identity
from podship.core.records import normalise
from podship.devtools.simgen import Timeline


@functools.cache
def model_fields(schema: str) -> frozenset[tuple[str, ...]]:
    """Every path (and prefix) in the simulator's events of every type, rendered into `schema`."""
    if schema == DEFAULT:
        text = resources.files("podship").joinpath("schema/record.schema.json").read_text()
        return frozenset((name,) for name in json.loads(text)["properties"])
    line, found = Timeline(seed=3), set[tuple[str, ...]]()
    for kind in TYPES:
        for k in range(200):
            event = line.event(kind, k)
            event_id, ts = event_identity(event, kind)
            record = normalise(event, kind, event_id, ts, {"tenant_name": "t", "connector": "c"})
            found.update(_paths(MODELS[schema](record, "none"), ()))
    return frozenset(found)


def _paths(value: Any, prefix: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    if prefix:
        yield prefix
    items = value if isinstance(value, list) else [value]
    for item in items:
        if isinstance(item, dict):
            for key, inner in item.items():
                yield from _paths(inner, (*prefix, str(key)))


def rule_fields(document: Any) -> Iterator[tuple[str, str]]:
    """(rule name, field) for every field a rules file's conditions and rate limits name."""
    for rule in document.get("rules", []) if isinstance(document, dict) else []:
        if not isinstance(rule, dict):
            continue
        name = str(rule.get("name"))
        for leaf in _leaves([rule.get("when"), *(rule.get("conditions") or [])]):
            yield name, leaf
        key = (
            rule.get("action", {}).get("rate_limit", {}).get("key")
            if isinstance(rule.get("action"), dict)
            else None
        )
        if key is not None:
            yield name, key


def _leaves(specs: list[Any]) -> Iterator[Any]:
    for spec in specs:
        if not isinstance(spec, dict):
            continue
        if "field" in spec:
            yield spec["field"]
        for combinator in ("all", "any"):
            yield from _leaves(spec.get(combinator) or [])
        yield from _leaves([spec.get("not")])


def unknown_fields(document: Any, schema: str) -> list[str]:
    """One line per field that no record of `schema` has."""
    known = model_fields(schema)
    found = []
    for rule, field in rule_fields(document):
        path = tuple(field) if isinstance(field, list) else tuple(str(field).split("."))
        if (path[:1] if schema == DEFAULT else path) not in known:
            found.append(f"rule {rule!r}: field {field!r} is not a field of {schema} records")
    return found
