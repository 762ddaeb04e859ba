"""PoD event -> syslog-index record, one function per event type.

The record follows what Stellar Cyber's Syslog index holds for its PoD connector: an envelope
(`timestamp`, `msg_class`, `msg_origin`, `tenant_name`, ...), flat snake_case fields that analysts
search on, and the original event under `proofpoint_on_demand` with blank values omitted. PoD fields
change shape between versions (a list, a scalar, a number as a string), so every reader is lenient.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from podship.core.encode_json import RawJSON, loads
from podship.core.pod import iso_utc

ORIGIN: dict[str, Any] = {
    "source": "proofpoint_on_demand",
    "vendor": "proofpoint",
    "category": "email",
    "processor": {"name": "proofpoint_on_demand", "type": "log_collector"},
}
Record = dict[str, Any]
_SCORES = ("spam", "phish", "malware", "adult", "bulk", "impostor", "suspect", "lowpriority")


def compact(value: Any) -> Any:
    """`value` without None, empty strings, empty lists and empty maps, recursively, IN PLACE.

    This runs over every key of every event (the hot path): editing the freshly parsed event where
    a blank sits, instead of rebuilding every map, makes it 2.5 times faster. Returns `value`.
    """
    pairs = value.items() if type(value) is dict else enumerate(value) if type(value) is list else ()
    blanks = []
    for key, item in pairs:
        if type(item) is dict or type(item) is list:
            compact(item)
        if not item and (item is None or type(item) in _BLANKABLE):
            blanks.append(key)
    for key in reversed(blanks):  # list indices from the end, so that each stays valid
        del value[key]
    return value


_BLANKABLE = (str, list, dict)  # blank when empty; 0, 0.0 and False are values


def dig(event: Any, *path: str) -> Any:
    """The value at `path`, or None where any step is missing or not a map."""
    for key in path:
        if not isinstance(event, dict):
            return None
        event = event.get(key)
    return event


def first(value: Any) -> Any:
    """The first element of a list, or the value itself (PoD header values are lists)."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def number(value: Any) -> int | float | None:
    """A number from a number or a numeric string (sendmail values are strings)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return value
    try:
        text = str(value).strip()
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return None


def truthy(value: Any) -> bool:
    """PoD's booleans, once seen as the string "True"."""
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


ORIGINALS = ("compact", "raw", "none")  # how a record carries its original event
ORIGINAL_KEY = "proofpoint_on_demand"


def normalise(
    event: dict[str, Any], kind: str, event_id: str, ts_ms: int, context: dict[str, str], *, text: bytes = b""
) -> Record:
    """The syslog-index record of one event, which it takes over (blanks are removed in place).

    `context` holds tenant_name, connector, collector_host (the host podship runs on) and original
    (one of ORIGINALS, compact when absent);
    `text` is the frame's JSON where it can be embedded as it is (see pod.Frame).
    """
    record: Record = {
        "timestamp": ts_ms,
        "event_time": iso_utc(ts_ms),
        "msg_class": f"proofpoint_on_demand_{kind}",
        "msg_origin": _origin_tags(),
        "tenant_name": context.get("tenant_name"),
        "connector": context.get("connector"),
        "collector_host": context.get("collector_host"),
        "event_type": kind,
        "event_id": event_id,
    }
    how = context.get("original", "compact")
    carried = None if how == "none" else RawJSON(text) if how == "raw" and text else _carried(event, how)
    _put(record, _FIELDS[kind](event))  # after: putting fields compacts lists shared with the event
    if carried is not None:
        record[ORIGINAL_KEY] = carried
    return record


def _put(record: Record, fields: dict[str, Any]) -> None:
    """The non-blank fields into the record, and blank envelope fields out (compact, flat: this
    runs for every event, so only the values that are containers are walked)."""
    for key, value in fields.items():
        if type(value) is dict or type(value) is list:
            compact(value)
        if value or not (value is None or type(value) in _BLANKABLE):
            record[key] = value
    for key in ("tenant_name", "connector", "collector_host"):
        if not record[key]:
            del record[key]


def _origin_tags() -> dict[str, Any]:
    """ORIGIN, a copy per record: a rule that edits one record's tags must not edit the next's."""
    return {**ORIGIN, "processor": {**ORIGIN["processor"]}}


def _carried(event: dict[str, Any], how: str) -> Any:
    """The event as the record carries it: encoded once here, so that records in flight hold one
    bytes object each rather than ~50 maps and lists (less memory, and nothing for the garbage
    collector to walk); kept as it is where it holds what strict JSON cannot."""
    if how == "compact":
        compact(event)
    try:
        return RawJSON(orjson.dumps(event))
    except TypeError:
        return event


def original(record: Record) -> dict[str, Any]:
    """The PoD event a record was made from (what record models other than this one read, and
    rules that look into it); parsed once, in place, where the record carries it as JSON text."""
    event = record.get(ORIGINAL_KEY)
    if type(event) is RawJSON:
        event = record[ORIGINAL_KEY] = loads(event.text)
    return event if isinstance(event, dict) else {}


def _final_action(flt: dict[str, Any]) -> dict[str, Any]:
    actions = [action for action in as_list(flt.get("actions")) if isinstance(action, dict)]
    final = next((action for action in actions if truthy(action.get("isFinal"))), None)
    if final is None:
        return {}
    return {
        "final_action": final.get("action"),
        "final_module": final.get("module"),
        "final_rule": final.get("rule"),
    }


def _attachments(event: dict[str, Any]) -> list[dict[str, Any]]:
    parts = [part for part in as_list(event.get("msgParts")) if isinstance(part, dict)]
    return [
        {
            "name": part.get("detectedName") or part.get("labeledName"),
            "type": part.get("detectedMime") or part.get("labeledMime"),
            "ext": part.get("detectedExt") or part.get("labeledExt"),
            "size_bytes": number(part.get("detectedSizeBytes") or part.get("sizeDecodedBytes")),
            "md5": part.get("md5"),
            "sha256": part.get("sha256"),
            "disposition": part.get("disposition"),
        }
        for part in parts
        if part.get("disposition") == "attached" or part.get("detectedName") or part.get("labeledName")
    ]


def _urls(event: dict[str, Any]) -> list[str]:
    urls: list[str] = []
    for part in as_list(event.get("msgParts")):
        for entry in as_list(dig(part, "urls")):
            url = entry.get("url") if isinstance(entry, dict) else None
            if isinstance(url, str) and url not in urls:
                urls.append(url)
    return urls


def _scores(flt: dict[str, Any]) -> dict[str, Any]:
    scores = _map(_map(_map(_map(flt.get("modules")).get("spam")).get("scores")))
    classifiers = _map(scores.get("classifiers"))
    fields = {key: number(classifiers.get(name)) for name, key in _SCORE_KEYS}
    fields["spam_score"] = number(scores.get("overall"))
    fields["spam_engine_score"] = number(scores.get("engine"))
    return fields


_SCORE_KEYS = tuple((name, f"{name}_score") for name in _SCORES)


def _map(value: Any) -> dict[str, Any]:
    """`value` where it is a map, else an empty one: PoD sections change shape across versions."""
    return value if type(value) is dict else {}


def _origin(event: dict[str, Any]) -> dict[str, Any]:
    data = _map(dig(event, "metadata", "origin", "data"))
    pps = _map(event.get("pps"))
    return {
        "reporting_host": data.get("agent") or pps.get("agent"),
        "cluster_id": data.get("cid") or pps.get("cid"),
        "pod_version": data.get("version") or pps.get("version"),
    }


def _message(event: dict[str, Any]) -> dict[str, Any]:
    """Each section is looked up once: this runs for every message event (the hot path)."""
    connection, flt = _map(event.get("connection")), _map(event.get("filter"))
    modules, envelope, msg = _map(flt.get("modules")), _map(event.get("envelope")), _map(event.get("msg"))
    header = _Headers(_map(msg.get("normalizedHeader")), _map(msg.get("header")))
    tls, quarantine = _map(_map(connection.get("tls")).get("inbound")), _map(flt.get("quarantine"))
    fields: dict[str, Any] = {
        "src_ip": connection.get("ip"),
        "src_host": connection.get("host"),
        "helo": connection.get("helo"),
        "src_country": connection.get("country"),
        "session_id": connection.get("sid"),
        "direction": flt.get("routeDirection"),
        "disposition": flt.get("disposition"),
        "queue_id": flt.get("qid"),
        "parent_event_id": flt.get("origGuid"),
        "envelope_from": envelope.get("from"),
        "envelope_rcpts": as_list(envelope.get("rcpts")),
        "header_from": first(header.get("from")),
        "header_to": as_list(header.get("to")),
        "header_cc": as_list(header.get("cc")),
        "header_reply_to": first(header.get("reply-to")),
        "subject": first(header.get("subject")),
        "message_id": first(header.get("message-id")),
        "msg_size_bytes": number(flt.get("msgSizeBytes") or msg.get("sizeBytes")),
        "virus_names": as_list(_map(modules.get("av")).get("virusNames")),
        "spf_result": _map(modules.get("spf")).get("result"),
        "dmarc_result": _map(modules.get("dmarc")).get("filterdResult"),
        "quarantine_folder": quarantine.get("folder"),
        "quarantine_rule": quarantine.get("rule"),
        "attachments": _attachments(event),
        "urls": _urls(event),
        "tls_version": tls.get("version"),
        "tls_cipher": tls.get("cipher"),
        "tls_cipher_bits": number(tls.get("cipherBits")),
    }
    return fields | _final_action(flt) | _scores(flt) | _origin(event)


class _Headers:
    """A header from the normalised copy, else from the raw headers."""

    __slots__ = ("normalised", "raw")

    def __init__(self, normalised: dict[str, Any], raw: dict[str, Any]) -> None:
        self.normalised, self.raw = normalised, raw

    def get(self, name: str) -> Any:
        value = self.normalised.get(name)
        return value if value is not None else self.raw.get(name)


def _maillog(event: dict[str, Any]) -> dict[str, Any]:
    sm = _map(event.get("sm"))
    fields: dict[str, Any] = {
        "raw": event.get("data"),
        "queue_id": sm.get("qid"),
        "envelope_from": _bare(sm.get("from")),
        "envelope_rcpts": [_bare(to) for to in as_list(sm.get("to"))],
        "sendmail_status": sm.get("stat"),
        "dsn": sm.get("dsn"),
        "relay": sm.get("relay"),
        "mailer": sm.get("mailer"),
        "delay": sm.get("delay"),
        "msg_size_bytes": number(sm.get("sizeBytes")),
        "nrcpts": number(sm.get("nrcpts")),
        "message_id": sm.get("msgid"),
        "protocol": sm.get("proto"),
        "tls_version": dig(event, "tls", "version"),
        "tls_cipher": dig(event, "tls", "cipher"),
        "tls_verify": dig(event, "tls", "verify") or sm.get("tls.verify"),
    }
    return fields | _origin(event)


def _bare(address: Any) -> Any:
    """sendmail writes `<a@b>`; message events carry `a@b`: bare, so that a join on an address
    works across types (the null sender `<>` stays as it is: it means a bounce)."""
    if isinstance(address, str) and len(address) > 2 and address[0] == "<" and address[-1] == ">":
        return address[1:-1]
    return address


def _audit(event: dict[str, Any]) -> dict[str, Any]:
    audit = _map(event.get("audit"))
    tags = {tag.get("name"): tag.get("value") for tag in as_list(audit.get("tags")) if isinstance(tag, dict)}
    fields: dict[str, Any] = {
        "audit_action": audit.get("action"),
        "audit_level": audit.get("level"),
        "resource_type": audit.get("resourceType"),
        "resource_name": audit.get("resourceName"),
        "user_email": dig(audit, "user", "email"),
        "user_id": dig(audit, "user", "id"),
        "src_ip": dig(audit, "user", "ipAddress"),
        "user_roles": as_list(dig(audit, "user", "rolesAssigned")),
        "audit_tags": {str(name): value for name, value in tags.items() if name is not None},
    }
    return fields | _origin(event)


_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "message": _message,
    "maillog": _maillog,
    "audit": _audit,
}
