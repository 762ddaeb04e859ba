"""PoD `message` events -> the ECS fields of Elastic's `proofpoint_on_demand.message` data stream.

The order of `related.*` follows the integration's pipeline (HELO, host, DKIM/DMARC/SPF domains,
agents; envelope sender and recipients, verified recipients, header and parsed addresses).
"""

from __future__ import annotations

from typing import Any

from podship.core.addresses import is_ip
from podship.core.event import readers as pod
from podship.core.event.readers import as_list, number
from podship.core.models import ecs_common as common
from podship.core.pod import iso_utc, parse_ts


def fields(event: dict[str, Any]) -> dict[str, Any]:
    connection, tls = pod.connection(event), pod.tls_inbound(event)
    related = common.Related()
    source = _source(connection, related)
    _domains(event, related)
    found: dict[str, Any] = {
        "event": {"category": ["email"], "type": ["info"]} | _timing(event),
        "observer": common.observer(event, related),
        "source": source,
        "network": {
            "protocol": "smtp" if "smtp" in str(connection.get("protocol") or "").lower() else None,
            "direction": str(pod.verdict(event).get("routeDirection") or "").lower() or None,
        },
        "tls": common.tls(tls.get("cipher"), tls.get("version")),
        "email": _email(event, related),
        "rule": {"name": _rules(event)},
    }
    found |= _parts(event, found["email"], related)
    return found | {"related": related.fields}


def _source(connection: dict[str, Any], related: common.Related) -> dict[str, Any]:
    helo, host, ip = connection.get("helo"), connection.get("host"), connection.get("ip")
    if helo:
        related.host_or_ip(helo)
    related.add("hosts", [host])
    ip = ip if is_ip(ip) else None
    related.add("ip", [ip])
    return {"address": helo, "domain": host, "ip": ip}


def _domains(event: dict[str, Any], related: common.Related) -> None:
    dmarc = pod.module(event, "dmarc")
    related.add("hosts", [entry.get("domain") for entry in pod.dkim_results(event)])
    related.add("hosts", [entry.get("fromDomain") for entry in pod.maps(dmarc.get("alignment"))])
    identities = pod.dmarc_identities(event)
    related.add("hosts", [found.get("header.from") for found in identities])
    related.add("hosts", [pod.module(event, "spf").get("domain")])
    throttle = pod.verdict(event).get("throttleIp")
    related.add("ip", [throttle] if is_ip(throttle) else [])


def _timing(event: dict[str, Any]) -> dict[str, Any]:
    """event.start (ms, as the date processor keeps it), duration (ns) and end = start + duration."""
    verdict = pod.verdict(event)
    seconds = number(verdict.get("durationSecs"))
    duration = None if seconds is None else int(seconds * 1_000_000_000)
    try:
        start = parse_ts(verdict.get("startTime"))
    except (ValueError, TypeError):
        start = None
    timing = {"duration": duration, "action": _lower(pod.elastic_final_action(event))}
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


def _email(event: dict[str, Any], related: common.Related) -> dict[str, Any]:
    sender, rcpts = pod.envelope_from(event), pod.envelope_rcpts(event)
    related.add("user", [sender, *rcpts, *pod.verified_rcpts(event)])
    for name in ("cc", "from", "reply-to", "to"):
        related.add("user", as_list(pod.raw_header(event, name)))
    for name in ("cc", "from", "to"):
        related.add("user", pod.parsed(event, name))
    return {
        "sender": {"address": sender},
        "from": {"address": as_list(pod.raw_header(event, "from"))},
        "to": {"address": as_list(pod.raw_header(event, "to"))},
        "cc": {"address": as_list(pod.raw_header(event, "cc"))},
        "reply_to": {"address": as_list(pod.raw_header(event, "reply-to"))},
        "subject": as_list(pod.raw_header(event, "subject")),
        "message_id": as_list(pod.raw_header(event, "message-id")),
        "local_id": pod.verdict(event).get("mid"),
    }


def _rules(event: dict[str, Any]) -> list[Any]:
    names = [pod.quarantine(event).get("rule"), pod.elastic_final_rule(event)]
    return list(dict.fromkeys(name for name in names if name))


def _parts(event: dict[str, Any], email: dict[str, Any], related: common.Related) -> dict[str, Any]:
    parts = pod.parts(event)
    related.add("hash", [part.get(key) for key in ("md5", "sha256") for part in parts])
    email["attachments"] = [_attachment(part) for part in parts]
    return {"url": {"full": [url for url in pod.part_urls(event) if isinstance(url, str)]}}


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
