"""Which field paths the records of a model have: what `podship rules check` and `rules export`
check a rules file's fields against, so that a rule written for the wrong model is said, not
silently never matched (in podship or in the collector the export goes to).

syslog_index: the fields of the shipped JSON Schema, and under the original event any path below
one of PoD's sections (PoD adds fields there; a section that is not PoD's is a typo). ocsf and ecs:
the paths each model declares it writes (`FIELDS` and `OPEN` in its module).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from podship.core.models import DEFAULT, MODELS
from podship.core.pod import SECTIONS

ORIGINAL = "proofpoint_on_demand"  # where the syslog-index record carries the PoD event


@functools.cache
def model_fields(schema: str) -> tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]:
    """(every known path and prefix, the paths below which anything goes) of `schema`'s records."""
    if schema != DEFAULT:
        return MODELS[schema].fields, frozenset(MODELS[schema].open)
    text = resources.files("podship").joinpath("schema/record.schema.json").read_text()
    known, free = set[tuple[str, ...]](), set[tuple[str, ...]]()
    _schema_paths(json.loads(text), (), known, free)
    sections = {(ORIGINAL, name) for names in SECTIONS.values() for name in names}
    return frozenset(known | sections), frozenset(free - {(ORIGINAL,)} | sections)


def _schema_paths(node: dict[str, Any], prefix: tuple[str, ...], known: set[Any], free: set[Any]) -> None:
    """Paths of a JSON Schema node; an object without `properties` is free-form below."""
    node = node.get("items", node)
    if prefix and node.get("type") == "object" and "properties" not in node:
        free.add(prefix)
    for name, inner in node.get("properties", {}).items():
        known.add((*prefix, name))
        _schema_paths(inner, (*prefix, name), known, free)


def rule_fields(document: Any) -> Iterator[tuple[str, Any]]:
    """(rule, field) for every field a rules file's conditions and rate limits name; the rule is
    `line N: rule 'name'` when the document was read with line numbers, else `rule 'name'`."""
    for rule in document.get("rules", []) if isinstance(document, dict) else []:
        if not isinstance(rule, dict):
            continue
        line = f"line {rule['__line__']}: " if "__line__" in rule else ""
        name = f"{line}rule {str(rule.get('name'))!r}"
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
    """One line per field that no record of `schema` has, with the nearest known one."""
    known, free = model_fields(schema)
    free = free | _made(document)
    found = []
    for rule, field in rule_fields(document):
        path = tuple(str(part) for part in field) if isinstance(field, list) else tuple(str(field).split("."))
        guess = _unknown(path, known, free)
        if guess is not None:
            hint = f"; did you mean {guess!r}?" if guess else ""
            found.append(f"{rule}: field {field!r} is not a field of {schema} records{hint}")
    return found


def _unknown(path: tuple[str, ...], known: frozenset[Any], free: frozenset[Any]) -> str | None:
    """None when `path` is known; else the path with its first unknown segment at its nearest
    sibling ("" when none is near)."""
    for depth in range(1, len(path) + 1):
        if path[:depth] in free:
            return None
        if path[:depth] not in known:
            parent = path[: depth - 1]
            siblings = [p[-1] for p in known if len(p) == depth and p[:-1] == parent]
            near = difflib.get_close_matches(path[depth - 1], siblings, n=1)
            return ".".join((*parent, near[0], *path[depth:])) if near else ""
    return None


def _made(document: Any) -> frozenset[tuple[str, ...]]:
    """Fields the file's own `set` and `rename` actions make: a later rule may test them."""
    made = set[tuple[str, ...]]()
    for rule in document.get("rules", []) if isinstance(document, dict) else []:
        action = rule.get("action") if isinstance(rule, dict) else None
        for kind, targets in (("set", dict.keys), ("rename", dict.values)):
            edit = action.get(kind) if isinstance(action, dict) else None
            if isinstance(edit, dict):
                edit = {key: value for key, value in edit.items() if key != "__line__"}
                made.update(tuple(str(name).split(".")) for name in targets(edit))
    return frozenset(made)
