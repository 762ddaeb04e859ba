"""Syslog messages as bytes: RFC 5424 (default) or RFC 3164, the record as JSON in MSG, and the
stream framings of RFC 6587 / RFC 5425 (octet counting) or a trailing newline.

Header fields are sanitised to printable US-ASCII and capped at RFC 5424's limits (HOSTNAME 255,
APP-NAME 48, PROCID 128, MSGID 32; `-` when empty). Structured data uses one SD-ID
(`podship@32473`: 32473 is the enterprise number RFC 5612 reserves for documentation) with
PARAM-NAMEs of at most 32 characters and `"`, `\\` and `]` escaped in values.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from podship.core import models
from podship.core.encode_json import dumps
from podship.core.records import Record

FACILITIES = {"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "authpriv": 10}
FACILITIES.update({f"local{n}": 16 + n for n in range(8)})
SEVERITIES = {"emerg": 0, "alert": 1, "crit": 2, "err": 3, "warning": 4, "notice": 5, "info": 6, "debug": 7}
_UNSAFE_NAME = re.compile(r'[^\x21-\x7e]|[=\]"]')
_UNSAFE_HEADER = re.compile(r"[^\x21-\x7e]")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Layout:
    """How records become syslog messages; every mapping is an option of the syslog output."""

    format: str = "rfc5424"
    facility: str = "local0"
    severity: str = "auto"
    app_name: str = "podship"
    hostname: str = ""  # empty: the record's reporting_host, else `-`
    sd_id: str = "podship@32473"
    sd_fields: tuple[str, ...] = ("event_id", "msg_class", "tenant_name", "envelope_from", "disposition")


def severity_of(record: dict[str, Any], layout: Layout) -> int:
    """`auto`: rejected, quarantined or infected mail and deletions are warnings; the rest is info."""
    if layout.severity != "auto":
        return SEVERITIES[layout.severity]
    if record.get("disposition") in ("reject", "quarantine", "discard") or record.get("virus_names"):
        return SEVERITIES["warning"]
    if record.get("audit_action") in ("delete", "execute") or str(
        record.get("sendmail_status", "")
    ).startswith(("Deferred", "User unknown")):
        return SEVERITIES["notice"]
    return SEVERITIES["info"]


def header_field(value: Any, limit: int) -> str:
    """Printable US-ASCII, at most `limit` characters, `-` when empty."""
    text = _UNSAFE_HEADER.sub("_", str(value or ""))[:limit]
    return text or "-"


@functools.lru_cache(maxsize=256)
def sd_name(name: str) -> str:
    """Cached: the names are the output's options (sd_id, sd_fields), sanitised for every message."""
    return _UNSAFE_NAME.sub("_", name)[:32] or "_"


def sd_value(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def structured_data(record: dict[str, Any], layout: Layout) -> str:
    params = [
        f'{sd_name(name)}="{sd_value(record[name])}"'
        for name in layout.sd_fields
        if record.get(name) not in (None, "", [])
    ]
    if not params:
        return "-"
    return f"[{sd_name(layout.sd_id)} {' '.join(params)}]"


def rfc5424(record: dict[str, Any], layout: Layout, msg: bytes, procid: int) -> bytes:
    pri = FACILITIES[layout.facility] * 8 + severity_of(record, layout)
    stamp = header_field(record.get("event_time"), 48)
    host = header_field(layout.hostname or record.get("reporting_host"), 255)
    app, msgid = header_field(layout.app_name, 48), header_field(record.get("event_type"), 32)
    head = f"<{pri}>1 {stamp} {host} {app} {procid} {msgid}"
    return f"{head} {structured_data(record, layout)} ".encode() + msg


def rfc3164(record: dict[str, Any], layout: Layout, msg: bytes, procid: int) -> bytes:
    """BSD syslog: the event time (UTC) as `Mmm dd hh:mm:ss`, TAG `app[pid]:`."""
    pri = FACILITIES[layout.facility] * 8 + severity_of(record, layout)
    moment = time.gmtime(int(record.get("timestamp", 0)) / 1000)
    clock = time.strftime("%H:%M:%S", moment)
    stamp = f"{_MONTHS[moment.tm_mon - 1]} {moment.tm_mday:2d} {clock}"
    host = header_field(layout.hostname or record.get("reporting_host"), 255)
    return f"<{pri}>{stamp} {host} {header_field(layout.app_name, 32)}[{procid}]: ".encode() + msg


def message(
    record: dict[str, Any], layout: Layout, procid: int, max_bytes: int = 0, body: Record | None = None
) -> bytes:
    """One message; with `max_bytes` (UDP), over-long ones lose the original event, then are cut.
    The header comes from the syslog-index record, MSG is `body` (the record in the output's
    model; the syslog-index record itself by default)."""
    build = rfc5424 if layout.format == "rfc5424" else rfc3164
    body = record if body is None else body
    data = build(record, layout, dumps(body), procid)
    if not max_bytes or len(data) <= max_bytes:
        return data
    data = build(record, layout, dumps(models.slim(body)), procid)
    return data if len(data) <= max_bytes else data[:max_bytes].decode("utf-8", "ignore").encode()


def frame(data: bytes, framing: str) -> bytes:
    """Octet counting (`LEN SP MSG`, RFC 6587 3.4.1 and RFC 5425), or a trailing newline."""
    return b"%d %s" % (len(data), data) if framing == "octet_counting" else data + b"\n"
