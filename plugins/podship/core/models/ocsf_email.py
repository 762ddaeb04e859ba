"""PoD `message` and `maillog` events -> the fields of OCSF Email Activity (class 4009).

`message` (one record per message and final disposition): Receive for inbound mail, Send for
outbound and for internal mail (its sender is the organisation's own; `direction_id` 3 says it
stayed inside, and counting it as Receive as well would count it twice). `maillog` (one sendmail
line): MTA Relay for a delivery attempt (a `to=` line with its status), Trace for the other lines
of a message's way through the MTA (`from=` and the like), both with the queue id as
`message_trace_uid`. Sendmail lines carry envelope addresses only; they fill `smtp_from`/`smtp_to`
and, because OCSF's email object needs a From or a To, `from`/`to` as well.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from podship.core.models.fields import section
from podship.core.pod import parse_ts
from podship.core.records import as_list, dig, first, number, truthy

# OCSF's email_t (1.8.0 dictionary): addresses that do not match are left out, never sent invalid.
_EMAIL = re.compile(r"^[a-zA-Z0-9!#$%&'*+-/=?^_`{|}~.]+@[a-zA-Z0-9-]+\.[a-zA-Z0-9-.]+$")
_ANGLE = re.compile(r"<([^<>]*)>\s*$")
_DIRECTIONS = {"inbound": (1, 2, "Receive"), "outbound": (2, 1, "Send"), "internal": (3, 1, "Send")}
_DISPOSITIONS = {  # PoD final disposition: (disposition_id, disposition, action_id, action)
    "accept": (1, "Allowed", 1, "Allowed"),
    "continue": (1, "Allowed", 1, "Allowed"),
    "retry": (14, "Delayed", 1, "Allowed"),
    "quarantine": (3, "Quarantined", 2, "Denied"),
    "reject": (2, "Blocked", 2, "Denied"),
    "discard": (6, "Dropped", 2, "Denied"),
}
_SCORES = ("spam", "phish", "malware", "adult", "bulk", "impostor", "suspect", "lowpriority")


def address(text: Any) -> str | None:
    """The bare address of `Name <a@b>`, `<a@b>` or `a@b`, or None when OCSF would refuse it."""
    if not isinstance(text, str):
        return None
    match = _ANGLE.search(text)
    bare = (match.group(1) if match else text).strip()
    return bare if _EMAIL.match(bare) else None


def addresses(values: Any) -> list[str]:
    found = [address(value) for value in as_list(values)]
    return list(dict.fromkeys(value for value in found if value))


def email_activity(event: dict[str, Any], sendmail: bool) -> dict[str, Any]:
    return _maillog(event) if sendmail else _message(event)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    connection = section(event, "connection")
    direction = dig(event, "filter", "routeDirection")
    unknown = (99 if direction else 0, 0, "Unknown")
    direction_id, activity_id, activity_name = _DIRECTIONS.get(str(direction).lower(), unknown)
    fields: dict[str, Any] = {
        "class_uid": 4009,
        "profiles": ["security_control", "datetime"],
        "activity_id": activity_id,
        "activity_name": activity_name,
        "direction_id": direction_id,
        "direction": direction,
        "email": _email(event),
        "email_auth": _auth(event),
        "src_endpoint": {"ip": connection.get("ip"), "hostname": connection.get("host")},
        "smtp_hello": connection.get("helo"),
        "message_trace_uid": dig(event, "filter", "qid"),
        "protocol_name": "smtp",
        "start_time": _start(event),
        "duration": _millis(dig(event, "filter", "durationSecs")),
        "malware": [{"name": name, "classification_ids": [0]} for name in _viruses(event)],
        "unmapped": _message_unmapped(event, connection),
    }
    return fields | _verdict(event)


def _verdict(event: dict[str, Any]) -> dict[str, Any]:
    """disposition_id, action_id and severity from PoD's final disposition (and any virus found)."""
    disposition = dig(event, "filter", "disposition")
    known = _DISPOSITIONS.get(str(disposition).lower())
    disposition_id, name, action_id, action = known or (99, disposition, 99, "Other")
    severity = 4 if _viruses(event) else 3 if action_id == 2 else 1
    return {
        "disposition_id": disposition_id if disposition else 0,
        "disposition": name if disposition else None,
        "action_id": action_id if disposition else 0,
        "action": action if disposition else None,
        "severity_id": severity,
        "is_alert": severity >= 3,
    }


def _header(event: dict[str, Any], name: str) -> Any:
    value = dig(event, "msg", "normalizedHeader", name)
    return value if value is not None else dig(event, "msg", "header", name)


def _email(event: dict[str, Any]) -> dict[str, Any]:
    """From/To from the headers (parsed addresses first); a message with neither gets the envelope's,
    since OCSF's email object needs a From or a To."""
    parsed = section(event, "msg", "parsedAddresses")
    sender = first(addresses(parsed.get("from")) or addresses(_header(event, "from")))
    rcpts = addresses(parsed.get("to")) or addresses(_header(event, "to"))
    if not sender and not rcpts:
        sender, rcpts = address(dig(event, "envelope", "from")), addresses(dig(event, "envelope", "rcpts"))
    return {
        "from": sender,
        "to": rcpts,
        "cc": addresses(parsed.get("cc")) or addresses(_header(event, "cc")),
        "reply_to": first(addresses(_header(event, "reply-to"))),
        "subject": first(_header(event, "subject")),
        "message_uid": first(dig(event, "msg", "header", "message-id") or _header(event, "message-id")),
        "smtp_from": address(dig(event, "envelope", "from")),
        "smtp_to": addresses(dig(event, "envelope", "rcpts")),
        "size": number(dig(event, "filter", "msgSizeBytes") or dig(event, "msg", "sizeBytes")),
        "files": [_file(part) for part in _parts(event) if _name(part)],
        "urls": [_url(url) for url in _urls(event)],
    }


def _parts(event: dict[str, Any]) -> list[dict[str, Any]]:
    return [part for part in as_list(event.get("msgParts")) if isinstance(part, dict)]


def _name(part: dict[str, Any]) -> Any:
    return part.get("detectedName") or part.get("labeledName")


def _file(part: dict[str, Any]) -> dict[str, Any]:
    hashes = [(1, part.get("md5")), (3, part.get("sha256"))]
    return {
        "name": _name(part),
        "type_id": 1,
        "mime_type": part.get("detectedMime") or part.get("labeledMime"),
        "ext": part.get("detectedExt") or part.get("labeledExt"),
        "size": number(part.get("detectedSizeBytes") or part.get("sizeDecodedBytes")),
        "hashes": [{"algorithm_id": uid, "value": value} for uid, value in hashes if isinstance(value, str)],
    }


def _urls(event: dict[str, Any]) -> list[str]:
    found = [dig(entry, "url") for part in _parts(event) for entry in as_list(part.get("urls"))]
    return list(dict.fromkeys(url for url in found if isinstance(url, str) and url))


def _url(text: str) -> dict[str, Any]:
    try:
        parts = urlsplit(text)
    except ValueError:
        return {"url_string": text}
    return {"url_string": text, "scheme": parts.scheme, "hostname": parts.hostname, "path": parts.path}


def _auth(event: dict[str, Any]) -> dict[str, Any]:
    modules = dig(event, "filter", "modules")
    dkim = next((entry for entry in as_list(dig(modules, "dkimv")) if isinstance(entry, dict)), {})
    return {
        "spf": dig(modules, "spf", "result"),
        "dkim": dkim.get("result"),
        "dkim_domain": dkim.get("domain"),
        "dmarc": dig(modules, "dmarc", "filterdResult"),
    }


def _viruses(event: dict[str, Any]) -> list[str]:
    names = as_list(dig(event, "filter", "modules", "av", "virusNames"))
    return [name for name in names if isinstance(name, str) and name]


def _start(event: dict[str, Any]) -> int | None:

    try:
        return parse_ts(dig(event, "filter", "startTime"))
    except (ValueError, TypeError):
        return None


def _millis(seconds: Any) -> int | None:
    value = number(seconds)
    return None if value is None else round(value * 1000)


def _message_unmapped(event: dict[str, Any], connection: dict[str, Any]) -> dict[str, Any]:
    """What OCSF has no attribute for: PoD's scores, the final rule, TLS of the inbound session."""
    actions = as_list(dig(event, "filter", "actions"))
    final: Any = next((a for a in actions if truthy(dig(a, "isFinal"))), {})
    scores = dig(event, "filter", "modules", "spam", "scores")
    tls = dig(connection, "tls", "inbound")
    return {
        "scores": {name: number(dig(scores, "classifiers", name)) for name in _SCORES}
        | {"overall": number(dig(scores, "overall")), "engine": number(dig(scores, "engine"))},
        "final_module": dig(final, "module"),
        "final_rule": dig(final, "rule"),
        "quarantine": {
            "folder": dig(event, "filter", "quarantine", "folder"),
            "rule": dig(event, "filter", "quarantine", "rule"),
        },
        "tls": {
            "version": dig(tls, "version"),
            "cipher": dig(tls, "cipher"),
            "cipher_bits": number(dig(tls, "cipherBits")),
        },
        "session_id": connection.get("sid"),
        "country": connection.get("country") if connection.get("country") != "**" else None,
        "parent_event_uid": dig(event, "filter", "origGuid"),
    }


_RELAY = re.compile(r"^\s*([^\s\[]*)\.?\s*(?:\[(?:IPv6:)?([^\]]+)\])?")


def _maillog(event: dict[str, Any]) -> dict[str, Any]:
    sm = section(event, "sm")
    delivery = bool(sm.get("to")) or "stat" in sm
    sender, rcpts = address(sm.get("from")), addresses(sm.get("to"))
    return {
        "class_uid": 4009,
        "profiles": ["datetime"],
        "activity_id": 5 if delivery else 4,
        "activity_name": "MTA Relay" if delivery else "Trace",
        "direction_id": 0,
        "email": {
            "from": sender,
            "to": rcpts,
            "smtp_from": sender,
            "smtp_to": rcpts,
            "message_uid": sm.get("msgid"),
            "size": number(sm.get("sizeBytes")),
        },
        "message_trace_uid": sm.get("qid"),
        "message": event.get("data"),
        "protocol_name": str(sm.get("proto")).lower() if sm.get("proto") else None,
        "dst_endpoint": _relay(sm.get("relay")),
        "unmapped": _maillog_unmapped(event, sm),
    } | _status(sm)


def _relay(text: Any) -> dict[str, Any] | None:
    """`mx.example. [10.1.2.3]` or `host [IPv6:2a02::1]`: the hostname and the address."""
    match = _RELAY.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    hostname, ip = match.group(1).rstrip(".") or None, match.group(2)
    try:
        ip = str(ipaddress.ip_address(ip)) if ip else None
    except ValueError:
        ip = None
    return {"hostname": hostname, "ip": ip} if hostname or ip else None


def _status(sm: dict[str, Any]) -> dict[str, Any]:
    """Success for a 2.x.x DSN (or `stat=Sent`), Failure for 5.x.x, Other for a deferral (4.x.x)."""
    stat, dsn = sm.get("stat"), str(sm.get("dsn") or "")
    if not stat and not dsn:
        return {"severity_id": 1}
    sent = dsn.startswith("2") or (not dsn and str(stat).startswith("Sent"))
    status_id = 1 if sent else 2 if dsn.startswith("5") else 99
    name = {1: "Success", 2: "Failure"}.get(status_id, "Other")
    return {
        "status_id": status_id,
        "status": name,
        "status_code": dsn or None,
        "status_detail": stat,
        "severity_id": 1 if sent else 2,
    }


def _maillog_unmapped(event: dict[str, Any], sm: dict[str, Any]) -> dict[str, Any]:
    tls = section(event, "tls")
    keys = ("relay", "mailer", "delay", "xdelay", "pri", "nrcpts", "ctladdr", "daemon", "class", "auth")
    return {
        "sendmail": {key: sm.get(key) for key in keys},
        "tls": {
            "version": tls.get("version"),
            "cipher": tls.get("cipher"),
            "verify": tls.get("verify") or sm.get("tls.verify"),
        },
    }
