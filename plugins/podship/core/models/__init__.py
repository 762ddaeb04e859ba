"""Record models: what an output sends, picked by its `schema` option.

The pipeline carries events (`core/event/envelope.py`): an envelope and the PoD event. Each output
renders every record in its model, the syslog-index record (`core/records.py`) included, just
before encoding. A model is a function from an event, and where to keep the original event (the
output's `original`), to a record; it reads the event's facts through `core/event/readers.py`, and
declares the field paths it writes (`FIELDS`, `OPEN`), which rules are checked against. A new
model is one module and one line in MODELS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from podship.core import records
from podship.core.event.envelope import Event
from podship.core.models import ecs, ocsf
from podship.core.records import DEFAULT as DEFAULT
from podship.core.records import Record

ORIGINAL_PLACES = ("raw_data", "unmapped", "none")


@dataclass(frozen=True)
class Model:
    """A record model: `render(event, keep_original)`, and where its records keep the event id
    (what `sample` rules hash)."""

    render: Callable[[Event, str], Record]
    id_path: tuple[str, ...]
    fields: frozenset[tuple[str, ...]] = frozenset()  # every path it writes, and their prefixes
    open: tuple[tuple[str, ...], ...] = ()  # below these, keys come from the event: any path

    def has(self, path: tuple[str, ...]) -> bool:
        """Whether a record of this model can hold `path` (what rules are checked against)."""
        return path in self.fields or any(path[: len(prefix)] == prefix for prefix in self.open)

    def __call__(self, event: Event, keep_original: str) -> Record:
        return self.render(event, keep_original)


def declared(paths: list[str]) -> frozenset[tuple[str, ...]]:
    """Each dotted path a model declares, and every prefix of it."""
    split = [tuple(path.split(".")) for path in paths]
    return frozenset(path[:end] for path in split for end in range(1, len(path) + 1))


def _opened(prefixes: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(prefix.split(".")) for prefix in prefixes)


MODELS: dict[str, Model] = {
    DEFAULT: Model(records.render, ("event_id",)),
    "ocsf": Model(ocsf.render, ("metadata", "uid"), declared(ocsf.FIELDS), _opened(ocsf.OPEN)),
    "ecs": Model(ecs.render, ("event", "id"), declared(ecs.FIELDS), _opened(ecs.OPEN)),
}


def view(event: Event, schema: str) -> Record:
    """What rules written for `schema` read: the syslog-index record holding the event itself
    (rules edit it), or another model's rendering without the original (rules decide on it);
    rendered once per event, until an edit of the event makes it stale."""
    if schema == DEFAULT:
        return records.view(event)
    record = event.views.get(schema)
    if record is None:
        record = event.views[schema] = MODELS[schema].render(event, "none")
    return record


def renderer(schema: str = DEFAULT, original: str = "") -> Callable[[Event], Record]:
    """The function an output applies to each event before encoding, from its `schema` and
    `original` options (resolved at configuration; empty: the model's default)."""
    schema = schema or DEFAULT
    render, keep = MODELS[schema].render, original or ("compact" if schema == DEFAULT else ORIGINAL_PLACES[0])
    return lambda event: render(event, keep)


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
