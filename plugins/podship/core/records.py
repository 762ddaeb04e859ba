"""The syslog-index record model: an event (core/event/envelope.py) -> its record.

The record follows what Stellar Cyber's Syslog index holds for its PoD connector: an envelope
(`timestamp`, `msg_class`, `msg_origin`, `tenant_name`, ...), flat snake_case fields that analysts
search on (one function per event type, core/record_fields.py), and the original event under
`proofpoint_on_demand` with blank values omitted. Rules read and edit it as a view kept on the
event; outputs send it.
"""

from __future__ import annotations

from typing import Any

import orjson

from podship.core import paths
from podship.core.encode_json import RawJSON, loads
from podship.core.event import places
from podship.core.event.blanks import BLANKABLE, compact, without_blanks
from podship.core.event.envelope import ORIGINAL_KEY, Event
from podship.core.pod import iso_utc
from podship.core.record_fields import FIELDS

DEFAULT = "syslog_index"  # this model's name
ENVELOPE = ("tenant_name", "connector", "collector_host")  # of an event's context, in the record
ORIGIN: dict[str, Any] = {
    "source": "proofpoint_on_demand",
    "vendor": "proofpoint",
    "category": "email",
    "processor": {"name": "proofpoint_on_demand", "type": "log_collector"},
}
Record = dict[str, Any]


ORIGINALS = ("compact", "raw", "none")  # how a record carries its original event


def arrived(
    body: dict[str, Any] | None,
    kind: str,
    event_id: str,
    ts: int,
    context: dict[str, str],
    *,
    text: bytes = b"",
) -> Event:
    """An event as an input hands it on: the frame's own `text` (where it is strict JSON on one
    line, see pod.Frame), parsed where a rule or an output first reads it; or `body`, where the
    input parsed it whole (a frame that is not strict JSON on one line), which this takes over:
    in flight as `text` where the outputs carry it raw, else without blanks, encoded once.
    `context` holds tenant_name, connector, collector_host (the host podship runs on) and
    original (one of ORIGINALS, compact when absent).

    The PoD input reads only an event's id and time (pod.decode_frame), so an event is parsed
    once, by the worker that renders it, while it is in the cache: with 2,000 in flight (the
    default buffer_records), rendering parsed events that had gone cold cost 12-15 us more per
    message event than parsing the text where it is read (4-5 us).
    """
    if body is None:
        return Event(kind, event_id, ts, context, text=text)
    if context.get("original", "compact") == "raw":
        return Event(kind, event_id, ts, context, text=text, body=None if text else body)
    compact(body)
    try:  # as the outputs encode it (NaN and infinities as null), in flight as text
        return Event(kind, event_id, ts, context, text=orjson.dumps(body))
    except TypeError:  # what strict JSON cannot hold (a key that is no string): kept as it is
        return Event(kind, event_id, ts, context, body=body)


def view(event: Event) -> Record:
    """The syslog-index record of an event, holding the event itself under ORIGINAL_KEY: what
    rules of this model read and edit (an edit below ORIGINAL_KEY edits the event, which every
    model renders), and what outputs of this model send. Rendered once per event."""
    record = event.views.get(DEFAULT)
    if record is None:
        record = event.views[DEFAULT] = _record(event)
    return record


def render(event: Event, how: str) -> Record:
    """The syslog-index record as an output sends it, with the event (`how` is none, or as the
    inputs carry it: compact or raw); a relayed record goes as it came. The view itself where
    it carries the event: outputs come after every rule, so nothing reads the view's event
    after this, and other models read `event.body` (a copy of 40 keys would cost 2 us)."""
    record = view(event)
    if how == "none":
        return {key: value for key, value in record.items() if key != ORIGINAL_KEY}
    if carries_event(record, event) and not event.relayed:
        record[ORIGINAL_KEY] = _carried(event)
    return record


def carries_event(record: Record, event: Event) -> bool:
    """Whether the syslog-index record still carries the event under ORIGINAL_KEY (itself, or
    as an output encoded it), and no rule replaced or removed it there."""
    carried = record.get(ORIGINAL_KEY)
    return carried is event.body or type(carried) is RawJSON


def header(event: Event) -> Record:
    """What a syslog header or a Forward tag reads: the syslog-index record, or where the event
    cannot be rendered into one, its envelope (so that an output of another model that can
    render it still sends it, and the event is set aside once, by its own model, not by every
    output's header)."""
    try:
        return view(event)
    except Exception:  # whatever the event holds; the output's own model says what is wrong
        return _envelope(event)


def _envelope(event: Event) -> Record:
    record: Record = {
        "timestamp": event.ts,
        "event_time": iso_utc(event.ts),
        "msg_class": f"proofpoint_on_demand_{event.kind}",
        "event_type": event.kind,
        "event_id": event.event_id,
    }
    return record | {key: event.context[key] for key in ENVELOPE if event.context.get(key)}


def edited(record: Record, event: Event) -> None:
    """A rule edited the syslog-index record: its envelope fields (tenant, connector, host, id,
    time) become the event's, which every model renders; the other fields are this model's."""
    context = {key: value for key, value in event.context.items() if key not in ENVELOPE}
    event.context = context | {key: str(record[key]) for key in ENVELOPE if record.get(key) not in (None, "")}
    event.event_id = str(record.get("event_id", ""))
    if type(record.get("timestamp")) is int:
        event.ts = record["timestamp"]


def _record(event: Event) -> Record:
    context = event.context
    record: Record = {
        "timestamp": event.ts,
        "event_time": iso_utc(event.ts),
        "msg_class": f"proofpoint_on_demand_{event.kind}",
        "msg_origin": _origin_tags(),
        "tenant_name": context.get("tenant_name"),
        "connector": context.get("connector"),
        "collector_host": context.get("collector_host"),
        "event_type": event.kind,
        "event_id": event.event_id,
    }
    _put(record, FIELDS[event.kind](event.body))
    record[ORIGINAL_KEY] = event.body
    return record


def _put(record: Record, fields: dict[str, Any]) -> None:
    """The non-blank fields into the record, and blank envelope fields out (flat: this runs for
    every event, so only the values that are containers are walked, and copied: a list a
    reader returns may be the event's own, which other models render as it is)."""
    for key, given in fields.items():
        value = without_blanks(given) if type(given) is dict or type(given) is list else given
        if value or not (value is None or type(value) in BLANKABLE):  # inline: ~40 per event
            record[key] = value
    for key in ENVELOPE:
        if not record[key]:
            del record[key]


def _origin_tags() -> dict[str, Any]:
    """ORIGIN, a copy per record: a rule that edits one record's tags must not edit the next's."""
    return {**ORIGIN, "processor": {**ORIGIN["processor"]}}


def _carried(event: Event) -> Any:
    """The event as the record carries it: the text it arrived as where the inputs carry it raw
    and no rule edited it, else the event itself (without blanks unless carried raw), which the
    output encodes with the record."""
    text = event.as_arrived
    return RawJSON(text) if text else event.body


def original(record: Record) -> dict[str, Any]:
    """The PoD event a syslog-index record carries (parsed once, in place, where it is JSON text)."""
    event = record.get(ORIGINAL_KEY)
    if type(event) is RawJSON:
        event = record[ORIGINAL_KEY] = loads(event.text)
    return event if isinstance(event, dict) else {}


# The syslog-index fields each meaning a privacy rule names is copied into (beside the event).
_HOLDERS: dict[str, tuple[paths.Path, ...]] = {
    "recipients": (("envelope_rcpts",), ("header_to",), ("header_cc",)),
    "senders": (("envelope_from",), ("header_from",), ("header_reply_to",)),
    "subjects": (("subject",),),
    "attachment_names": (("attachments", "name"),),
    "urls": (("urls",),),
    "client_ips": (("src_ip",),),
}


def mask(
    record: Record, meanings: tuple[str, ...], change: places.Change, done: tuple[paths.Path, ...] = ()
) -> None:
    """Hide each meaning in the event the record carries and in the fields made from it, with
    the same change, so that every model renders the hidden value (the fields in `done` a rule
    masked already, as it names them)."""
    kind = str(record.get("event_type"))
    hidden = places.mask(original(record), kind, meanings, change) if ORIGINAL_KEY in record else frozenset()
    hidden |= {found for meaning in meanings for found in _addresses_held(record, meaning)}
    for meaning in meanings:
        for path in _HOLDERS[meaning]:
            if path not in done:
                paths.replace(record, path, places.hide(meaning, change))
    if kind == "maillog" and isinstance(record.get("raw"), str):
        record["raw"] = places.hide_in_line(record["raw"], meanings, change)
    if kind == "maillog" and "client_ips" in meanings and "envelope_from" in record:
        record["relay"] = places.hide_relay_ip(record.get("relay"), change)
    for path in (*_HOLDERS["recipients"], *_HOLDERS["senders"], ("raw",)):  # a hidden address, everywhere
        if path not in done:
            paths.replace(record, path, places.hide_only(hidden, change))


def meanings_held(targets: list[paths.Path]) -> tuple[str, ...]:
    """The meanings (places.MEANINGS) that the syslog-index fields `targets`, or fields below
    them (`attachments` holds `attachments.name`), hold."""
    holders = [(meaning, path) for meaning, held in _HOLDERS.items() for path in held]
    holders += [(meaning, path) for path, meanings in _LINES.items() for meaning in meanings]
    found = {meaning for meaning, path in holders for target in targets if path[: len(target)] == target}
    return tuple(meaning for meaning in places.MEANINGS if meaning in found)


# The maillog fields that quote the sendmail line, and the meanings it holds.
_LINES: dict[paths.Path, tuple[str, ...]] = {
    ("raw",): ("recipients", "senders", "client_ips"),
    ("relay",): ("client_ips",),
}


def _addresses_held(record: Record, meaning: str) -> set[str]:
    if meaning not in places.ADDRESSES:
        return set()
    texts = [value for path in _HOLDERS[meaning] for value in paths.values(record, path)]
    return {found for text in texts if isinstance(text, str) for found in places.ADDRESS.findall(text)}
