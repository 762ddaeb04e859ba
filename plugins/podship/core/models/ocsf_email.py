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

import re
from typing import Any
from urllib.parse import urlsplit

from podship.core.addresses import normal_ip
from podship.core.event import readers as pod
from podship.core.event.readers import as_list, first, number
from podship.core.pod import parse_ts

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


def _none_known(sender: str | None) -> list[str]:
    """OCSF's email needs a From or a To; an event that names neither as an address (a sendmail
    line to a file, a program, /dev/null or REDACTED, a STARTTLS line, a message with empty
    sections) gets this To, in the reserved `.invalid` domain (RFC 2606): no address was known."""
    return [] if sender else [NO_ADDRESS]


NO_ADDRESS = "unknown@unknown.invalid"


def address(text: Any) -> str | None:
    """The bare address of `Name <a@b>`, `<a@b>` or `a@b`, or None when OCSF would refuse it."""
    if not isinstance(text, str):
        return None
    match = _ANGLE.search(text)
    bare = (match.group(1) if match else text).strip()
    return bare if _EMAIL.match(bare) else None


def addresses(values: Any) -> list[str]:
    """The bare addresses of a list of values, each of which may hold several, comma-separated
    (a header, or a sendmail `to=` that delivered to more than one recipient)."""
    found: dict[str, None] = {}  # in order, once each; one loop: ~8 calls per message event
    for part in _split(values):
        bare = address(part)
        if bare:
            found[bare] = None
    return list(found)


def _split(values: Any) -> list[Any]:
    found = [value.split(",") if isinstance(value, str) else [value] for value in as_list(values)]
    return [part for parts in found for part in parts]


def mailboxes(values: Any) -> list[str]:
    """What a sendmail `to=` named that is no address: a file, a program, /dev/null, REDACTED."""
    return [part for part in _split(values) if isinstance(part, str) and part and not address(part)]


def email_activity(event: dict[str, Any], sendmail: bool) -> dict[str, Any]:
    return _maillog(event) if sendmail else _message(event)


def _message(event: dict[str, Any]) -> dict[str, Any]:
    connection, flt = pod.connection(event), pod.verdict(event)
    direction = flt.get("routeDirection")
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
        "message_trace_uid": flt.get("qid"),
        "protocol_name": "smtp",
        "start_time": _start(flt),
        "duration": _millis(flt.get("durationSecs")),
        "malware": [{"name": name, "classification_ids": [0]} for name in _viruses(event)],
        "unmapped": _message_unmapped(event, connection),
    }
    return fields | _verdict(event)


def _verdict(event: dict[str, Any]) -> dict[str, Any]:
    """disposition_id, action_id and severity from PoD's final disposition (and any virus found)."""
    disposition = pod.verdict(event).get("disposition")
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


def _email(event: dict[str, Any]) -> dict[str, Any]:
    """From/To from the headers (parsed addresses first); a message with neither gets the envelope's,
    since OCSF's email object needs a From or a To."""
    sender = first(addresses(pod.parsed(event, "from")) or addresses(pod.header(event, "from")))
    rcpts = addresses(pod.parsed(event, "to")) or addresses(pod.header(event, "to"))
    if not sender and not rcpts:
        sender, rcpts = address(pod.envelope_from(event)), addresses(pod.envelope_rcpts(event))
    rcpts = rcpts or addresses(pod.verified_rcpts(event))
    return {
        "from": sender,
        "to": rcpts or _none_known(sender),
        "cc": addresses(pod.parsed(event, "cc")) or addresses(pod.header(event, "cc")),
        "reply_to": first(addresses(pod.header(event, "reply-to"))),
        "subject": first(pod.header(event, "subject")),
        "message_uid": first(pod.raw_header(event, "message-id") or pod.header(event, "message-id")),
        "smtp_from": address(pod.envelope_from(event)),
        "smtp_to": addresses(pod.envelope_rcpts(event)),
        "size": pod.message_size(event),
        "files": [_file(part) for part in pod.parts(event) if pod.part_name(part)],
        "urls": [_url(url) for url in pod.urls(event) if url],
    }


def _file(part: dict[str, Any]) -> dict[str, Any]:
    hashes = [(1, part.get("md5")), (3, part.get("sha256"))]
    return {
        "name": pod.part_name(part),
        "type_id": 1,
        "mime_type": pod.part_mime(part),
        "ext": pod.part_ext(part),
        "size": pod.part_size(part),
        "hashes": [{"algorithm_id": uid, "value": value} for uid, value in hashes if isinstance(value, str)],
    }


def _url(text: str) -> dict[str, Any]:
    try:
        parts = urlsplit(text)
    except ValueError:
        return {"url_string": text}
    return {"url_string": text, "scheme": parts.scheme, "hostname": parts.hostname, "path": parts.path}


def _auth(event: dict[str, Any]) -> dict[str, Any]:
    dkim = pod.dkim(event)
    return {
        "spf": pod.module(event, "spf").get("result"),
        "dkim": dkim.get("result"),
        "dkim_domain": dkim.get("domain"),
        "dmarc": pod.module(event, "dmarc").get("filterdResult"),
    }


def _viruses(event: dict[str, Any]) -> list[str]:
    return [name for name in pod.virus_names(event) if isinstance(name, str) and name]


def _start(flt: dict[str, Any]) -> int | None:
    try:
        return parse_ts(flt.get("startTime"))
    except (ValueError, TypeError):
        return None


def _millis(seconds: Any) -> int | None:
    value = number(seconds)
    return None if value is None else round(value * 1000)


def _message_unmapped(event: dict[str, Any], connection: dict[str, Any]) -> dict[str, Any]:
    """What OCSF has no attribute for: PoD's scores, the final rule, TLS of the inbound session."""
    final, tls = pod.final_action(event), pod.tls_inbound(event)
    quarantine = pod.quarantine(event)
    return {
        "scores": pod.scores(event),
        "final_module": final.get("module"),
        "final_rule": final.get("rule"),
        "quarantine": {"folder": quarantine.get("folder"), "rule": quarantine.get("rule")},
        "tls": {
            "version": tls.get("version"),
            "cipher": tls.get("cipher"),
            "cipher_bits": number(tls.get("cipherBits")),
        },
        "session_id": connection.get("sid"),
        "country": connection.get("country") if connection.get("country") != "**" else None,
        "parent_event_uid": pod.verdict(event).get("origGuid"),
    }


_RELAY = re.compile(r"^\s*([^\s\[]*)\.?\s*(?:\[(?:IPv6:)?([^\]]+)\])?")


def _maillog(event: dict[str, Any]) -> dict[str, Any]:
    sm = pod.sendmail(event)
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
            "to": rcpts or _none_known(sender),
            "to_mailboxes": mailboxes(sm.get("to")),
            "smtp_from": sender,
            "smtp_to": rcpts,
            "message_uid": sm.get("msgid"),
            "size": number(sm.get("sizeBytes")),
        },
        "message_trace_uid": sm.get("qid"),
        "message": pod.sendmail_line(event),
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
    ip = normal_ip(ip) if ip else None
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
    keys = ("relay", "mailer", "delay", "xdelay", "pri", "nrcpts", "ctladdr", "daemon", "class", "auth")
    return {"sendmail": {key: sm.get(key) for key in keys}, "tls": pod.maillog_tls(event)}
