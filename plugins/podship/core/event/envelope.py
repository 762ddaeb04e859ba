"""One event in flight: its envelope and the PoD event, which every record model renders.

The pipeline carries this from the input to the outputs; nothing renders a record before a rule
or an output asks for one. In flight the PoD event is the text it arrived as (see
records.arrived), parsed once, when a rule or an output first reads it, and without blanks
unless the outputs carry it raw. Rules read a model's
rendering (a view, kept here so that an output of that model does not render it again) and edit
the event itself through it, so that every model renders the edited value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podship.core.encode_json import dumps, loads, parse
from podship.core.event.blanks import compact

ORIGINAL_KEY = "proofpoint_on_demand"  # where a syslog-index record keeps the PoD event
Record = dict[str, Any]


class Event:
    """`kind` is message, maillog or audit (or what a relayed record says it is); `context` holds
    tenant_name, connector, collector_host and original (how the inputs carry the event: compact
    or raw), shared by every event of one input."""

    __slots__ = ("_body", "context", "edited", "event_id", "kind", "relayed", "text", "ts", "views")

    def __init__(
        self,
        kind: str,
        event_id: str,
        ts: int,
        context: Mapping[str, str],
        *,
        text: bytes = b"",
        body: dict[str, Any] | None = None,
    ) -> None:
        self.kind, self.event_id, self.ts, self.context = kind, event_id, ts, context
        self.text = text  # the event's JSON as it arrived (strict, one line), or b""
        self._body = body
        self.relayed = False  # a record from another collector: its syslog-index view is itself
        self.edited = False  # a rule edited the event: its text no longer says what it holds
        self.views: dict[str, Record] = {}  # model -> the record rules read (see core/models)

    @classmethod
    def relay(cls, record: Record, ts: int) -> Event:
        """A record a collector sent (at `ts`, the time of its entry): its own syslog-index
        record, and where it carries a PoD event (another podship's record), that event and its
        id and time for the other models."""
        carried = record.get(ORIGINAL_KEY)
        context = {name: str(record[name]) for name in _ENVELOPE if isinstance(record.get(name), str)}
        kind, own_id, own_ts = record.get("event_type"), record.get("event_id"), record.get("timestamp")
        event_id = own_id if isinstance(own_id, str) else ""
        ts = own_ts if type(own_ts) is int else ts
        event = cls(kind if isinstance(kind, str) else "", event_id, ts, context, body=_as_map(carried))
        event.relayed, event.views = True, {"syslog_index": record}
        return event

    @property
    def raw(self) -> bool:
        """Whether the inputs carry the event as it arrived (blanks kept), not compact."""
        return self.context.get("original") == "raw"

    @property
    def body(self) -> dict[str, Any]:
        """The PoD event, parsed from its text on the first read (without blanks unless raw)."""
        if self._body is None:
            parsed, strict = parse(self.text) if self.text else ({}, True)
            body = parsed if isinstance(parsed, dict) else {}
            if not strict:  # a number beyond a double (1e400), which orjson refuses: never embedded
                self.text = b""
                body = body if self.raw else loads(dumps(body))  # as outputs encode it: null, a blank
            self._body = body if self.raw else compact(body)
        return self._body

    @property
    def as_arrived(self) -> bytes:
        """The text it arrived as, where outputs carry exactly that (raw, and no rule edited
        it); else b"" (then they encode the body). Read after the body, which clears a text that
        orjson refuses (1e400), so that such a text is never carried."""
        if not self.raw or self.edited:
            return b""
        self.body  # noqa: B018  # parsed (once) before the text is trusted
        return self.text

    def json(self) -> bytes:
        """The JSON text the outputs carry: the text it arrived as, else the event encoded
        (compact: what the body holds)."""
        return self.as_arrived or dumps(self.body)

    def touched(self, model: str, reached: bool) -> None:
        """A rule on `model`'s view edited it, and the PoD event itself where `reached` says so
        (then the text it arrived as no longer says what it holds): the views of other models
        are stale."""
        self.edited = self.edited or reached
        self.views = {model: self.views[model]} if model in self.views else {}

    def release(self) -> None:
        """What reading it made goes (the parsed event, its renderings), where its text still
        says all it holds: a batch holds encoded records, not ~75 maps and lists per event."""
        if self.text and not self.edited and not self.relayed:
            self._body, self.views = None, {}

    def letter(self) -> Record:
        """What a dead-letter file keeps of it: the syslog-index record where one was rendered,
        else the envelope and the event."""
        view = self.views.get("syslog_index")
        if view is not None:
            return view
        envelope = {"event_type": self.kind, "event_id": self.event_id, "timestamp": self.ts}
        envelope |= {name: self.context[name] for name in _ENVELOPE if name in self.context}
        try:
            return envelope | {ORIGINAL_KEY: self.body}
        except ValueError:  # its text does not parse: kept as text
            return envelope | {"text": self.text.decode("utf-8", "replace")}

    def __repr__(self) -> str:
        return f"Event({self.kind} {self.event_id} at {self.ts})"


_ENVELOPE = ("tenant_name", "connector", "collector_host")


def _as_map(carried: Any) -> dict[str, Any]:
    if isinstance(carried, dict):
        return carried
    if isinstance(carried, str | bytes):  # a relayed record whose event is JSON text
        try:
            parsed = loads(carried)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}
