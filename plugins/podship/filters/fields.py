"""Which field paths the records of a model have: what `podship rules check` and `rules export`
check a rules file's fields against, so that a rule written for the wrong model is said, not
silently never matched (in podship or in the collector the export goes to).

syslog_index: the top-level fields of the shipped JSON Schema (below them, the original event and
a few maps are free-form). ocsf and ecs: the paths each model declares it writes (`FIELDS` and
`OPEN` in its module).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from podship.core.models import DEFAULT, MODELS


@functools.cache
def _schema_fields() -> frozenset[str]:
    text = resources.files("podship").joinpath("schema/record.schema.json").read_text()
    return frozenset(json.loads(text)["properties"])


def known(schema: str, path: tuple[str, ...]) -> bool:
    """Whether records of `schema` can hold `path`."""
    if schema == DEFAULT:
        return path[0] in _schema_fields()
    return MODELS[schema].has(path)


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
    found = []
    for rule, field in rule_fields(document):
        path = tuple(field) if isinstance(field, list) else tuple(str(field).split("."))
        if not known(schema, path):
            found.append(f"rule {rule!r}: field {field!r} is not a field of {schema} records")
    return found
