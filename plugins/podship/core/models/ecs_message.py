"""PoD `message` events -> the ECS fields of Elastic's `proofpoint_on_demand.message` data stream.

The order of `related.*` follows the integration's pipeline (HELO, host, DKIM/DMARC/SPF domains,
agents; envelope sender and recipients, verified recipients, header and parsed addresses).
"""

from __future__ import annotations

from typing import Any

from podship.core.models import ecs
from podship.core.models.fields import section
from podship.core.pod import iso_utc, parse_ts
from podship.core.records import as_list, dig, number


def fields(event: dict[str, Any]) -> dict[str, Any]:
    connection = section(event, "connection")
    related = ecs.Related()
    source = _source(connection, related)
    _domains(event, related)
    found: dict[str, Any] = {
        "event": {"category": ["email"], "type": ["info"]} | _timing(event),
        "observer": ecs.observer(event, related),
        "source": source,
        "network": {
            "protocol": "smtp" if "smtp" in str(connection.get("protocol") or "").lower() else None,
            "direction": str(dig(event, "filter", "routeDirection") or "").lower() or None,
        },
        "tls": ecs.tls(
            dig(connection, "tls", "inbound", "cipher"), dig(connection, "tls", "inbound", "version")
        ),
        "email": _email(event, related),
        "rule": {"name": _rules(event)},
    }
    found |= _parts(event, found["email"], related)
    return found | {"related": related.fields}


def _source(connection: dict[str, Any], related: ecs.Related) -> dict[str, Any]:
    helo, host, ip = connection.get("helo"), connection.get("host"), connection.get("ip")
    if helo:
        related.host_or_ip(helo)
    related.add("hosts", [host])
    related.add("ip", [ip] if ecs.is_ip(ip) else [])
    return {"address": helo, "domain": host, "ip": ip if ecs.is_ip(ip) else None}


def _domains(event: dict[str, Any], related: ecs.Related) -> None:
    modules = dig(event, "filter", "modules")
    related.add("hosts", [dig(entry, "domain") for entry in as_list(dig(modules, "dkimv"))])
    related.add("hosts", [dig(entry, "fromDomain") for entry in as_list(dig(modules, "dmarc", "alignment"))])
    identities = [dig(entry, "emailIdentities") for entry in as_list(dig(modules, "dmarc", "authResults"))]
    related.add("hosts", [dig(found, "header.from") for found in identities])
    related.add("hosts", [dig(modules, "spf", "domain")])
    throttle = dig(event, "filter", "throttleIp")
    related.add("ip", [throttle] if ecs.is_ip(throttle) else [])


def _timing(event: dict[str, Any]) -> dict[str, Any]:
    """event.start (ms, as the date processor keeps it), duration (ns) and end = start + duration."""
    seconds = number(dig(event, "filter", "durationSecs"))
    duration = None if seconds is None else int(seconds * 1_000_000_000)
    try:
        start = parse_ts(dig(event, "filter", "startTime"))
    except (ValueError, TypeError):
        start = None
    timing = {"duration": duration, "action": _lower(event.get("final_action"))}
    if start is not None:
        timing["start"] = iso_utc(start)
        timing["end"] = None if duration is None else java_instant(start * 1_000_000 + duration)
    return timing


def java_instant(nanos: int) -> str:
    """An instant as Java's ZonedDateTime prints it: the fraction in 3, 6 or 9 digits, none if zero,
    and the seconds left out when they and the fraction are zero."""
    seconds, fraction = divmod(nanos, 1_000_000_000)
    text = iso_utc(seconds * 1000)[:-5]  # YYYY-MM-DDTHH:MM:SS
    if fraction == 0:
        return (text[:-3] if text.endswith(":00") else text) + "Z"
    digits = f"{fraction:09d}"
    for size in (3, 6):
        if digits[size:] == "0" * (9 - size):
            return f"{text}.{digits[:size]}Z"
    return f"{text}.{digits}Z"


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else None


def _email(event: dict[str, Any], related: ecs.Related) -> dict[str, Any]:
    header = dig(event, "msg", "header")
    sender, rcpts = dig(event, "envelope", "from"), as_list(dig(event, "envelope", "rcpts"))
    related.add("user", [sender, *rcpts, *as_list(dig(event, "filter", "verified", "rcpts"))])
    for name in ("cc", "from", "reply-to", "to"):
        related.add("user", as_list(dig(header, name)))
    parsed = dig(event, "msg", "parsedAddresses")
    for name in ("cc", "from", "to"):
        related.add("user", as_list(dig(parsed, name)))
    return {
        "sender": {"address": sender},
        "from": {"address": as_list(dig(header, "from"))},
        "to": {"address": as_list(dig(header, "to"))},
        "cc": {"address": as_list(dig(header, "cc"))},
        "reply_to": {"address": as_list(dig(header, "reply-to"))},
        "subject": as_list(dig(header, "subject")),
        "message_id": as_list(dig(header, "message-id")),
        "local_id": dig(event, "filter", "mid"),
    }


def _rules(event: dict[str, Any]) -> list[Any]:
    names = [dig(event, "filter", "quarantine", "rule"), event.get("final_rule")]
    return list(dict.fromkeys(name for name in names if name))


def _parts(event: dict[str, Any], email: dict[str, Any], related: ecs.Related) -> dict[str, Any]:
    parts = [part for part in as_list(event.get("msgParts")) if isinstance(part, dict)]
    related.add("hash", [part.get(key) for key in ("md5", "sha256") for part in parts])
    email["attachments"] = [_attachment(part) for part in parts]
    urls = [dig(entry, "url") for part in parts for entry in as_list(part.get("urls"))]
    return {"url": {"full": [url for url in urls if isinstance(url, str)]}}


def _attachment(part: dict[str, Any]) -> dict[str, Any]:
    extension = part.get("detectedExt")
    return {
        "file": {
            "name": part.get("detectedName"),
            "extension": extension.lower() if isinstance(extension, str) else None,
            "mime_type": part.get("detectedMime"),
            "size": number(part.get("detectedSizeBytes")),
            "hash": {"md5": part.get("md5"), "sha256": part.get("sha256")},
        }
    }
