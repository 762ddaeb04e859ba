"""Record models: what an output sends, picked by its `schema` option.

The pipeline carries syslog-index records (`core/records.py`); an output with another `schema`
renders each record into that model just before encoding. A model is a function from a
syslog-index record, and where to keep the original event (the output's `original`), to a new
record; it reads the PoD event with `records.original`, and its facts through
`core/event/readers.py`, and declares the field paths it writes (`FIELDS`, `OPEN`), which rules
are checked against. A new model is one module and one line in MODELS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from podship.core.models import ecs, ocsf
from podship.core.records import ORIGINAL_KEY, Record

DEFAULT = "syslog_index"
ORIGINAL_PLACES = ("raw_data", "unmapped", "none")


@dataclass(frozen=True)
class Model:
    """A record model: `render(record, keep_original)`, and where its records keep the event id
    (what `sample` rules hash)."""

    render: Callable[[Record, str], Record]
    id_path: tuple[str, ...]
    fields: frozenset[tuple[str, ...]] = frozenset()  # every path it writes, and their prefixes
    open: tuple[tuple[str, ...], ...] = ()  # below these, keys come from the event: any path

    def has(self, path: tuple[str, ...]) -> bool:
        """Whether a record of this model can hold `path` (what rules are checked against)."""
        return path in self.fields or any(path[: len(prefix)] == prefix for prefix in self.open)

    def __call__(self, record: Record, keep_original: str) -> Record:
        return self.render(record, keep_original)


def _syslog_index(record: Record, keep_original: str) -> Record:
    """Today's record, as the pipeline carries it."""
    return record


def declared(paths: list[str]) -> frozenset[tuple[str, ...]]:
    """Each dotted path a model declares, and every prefix of it."""
    split = [tuple(path.split(".")) for path in paths]
    return frozenset(path[:end] for path in split for end in range(1, len(path) + 1))


def _opened(prefixes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(prefix.split(".")) for prefix in prefixes)


MODELS: dict[str, Model] = {
    "syslog_index": Model(_syslog_index, ("event_id",)),
    "ocsf": Model(ocsf.render, ("metadata", "uid"), declared(ocsf.FIELDS), _opened(ocsf.OPEN)),
    "ecs": Model(ecs.render, ("event", "id"), declared(ecs.FIELDS), _opened(ecs.OPEN)),
}


def renderer(values: dict[str, Any]) -> Callable[[Record], Record]:
    """The function an output applies to each record before encoding, from its option values
    (`original`, resolved at configuration; `schema_original` still read, deprecated)."""
    render = MODELS[values.get("schema") or DEFAULT].render
    keep = values.get("original") or values.get("schema_original") or ""
    if render is _syslog_index:
        return _without_original if keep == "none" else _as_is
    keep = keep or ORIGINAL_PLACES[0]
    return lambda record: render(record, keep)


def _as_is(record: Record) -> Record:
    return record


def _without_original(record: Record) -> Record:
    """The syslog-index record with `original: none`: the pipeline carries the event for every
    model, and this output leaves it out."""
    return {key: value for key, value in record.items() if key != ORIGINAL_KEY}


def render_all(records: list[Record], values: dict[str, Any]) -> list[Record]:
    """A batch in the output's model; the default model returns the batch itself, at no cost."""
    if (values.get("schema") or DEFAULT) == DEFAULT and values.get("original") != "none":
        return records
    render = renderer(values)
    return [render(record) for record in records]


def slim(record: Record) -> Record:
    """`record` (in any model) without the original event, marked as truncated: what a syslog
    message too long for its datagram keeps."""
    kept = {key: value for key, value in record.items() if key not in ("proofpoint_on_demand", "raw_data")}
    for outer, inner in (("unmapped", "proofpoint_on_demand"), ("event", "original")):  # OCSF, ECS
        if isinstance(kept.get(outer), dict):
            kept[outer] = {key: value for key, value in kept[outer].items() if key != inner}
    if "class_uid" in kept:  # OCSF has a place for it
        kept["metadata"] = dict(kept.get("metadata") or {}, is_truncated=True)
    else:
        kept["truncated"] = True
    return kept
