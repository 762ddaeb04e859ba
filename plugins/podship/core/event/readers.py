"""Lenient readers of PoD's events: the one place that knows where PoD keeps each fact.

The syslog-index record, the OCSF and ECS models and the privacy rules read events only through
these functions. PoD fields change shape between versions (a list, a scalar, a number as a
string, a section that is `{}` or missing), so every reader takes whatever comes and returns a
value of one shape: a map, a list, a number or None.
"""

from __future__ import annotations

import re
from typing import Any

Event = dict[str, Any]
SCORES = ("spam", "phish", "malware", "adult", "bulk", "impostor", "suspect", "lowpriority")


def dig(event: Any, *path: str) -> Any:
    """The value at `path`, or None where any step is missing or not a map."""
    for key in path:
        if type(event) is not dict:  # `type is`, not isinstance: this runs ~30 times per event
            return None
        event = event.get(key)
    return event


def section(event: Any, *path: str) -> dict[str, Any]:
    """The map at `path`, or an empty one: PoD sections change shape across versions."""
    for key in path:
        if type(event) is not dict:
            return {}
        event = event.get(key)
    return event if type(event) is dict else {}


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
    kind = type(value)
    if kind is int or kind is float:  # the common case first: a dozen per message event
        return value  # type: ignore[no-any-return]
    if value is None or kind is bool:
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


def maps(value: Any) -> list[dict[str, Any]]:
    """The maps of a list (or a lone map): PoD's lists of objects hold the odd scalar."""
    return [item for item in as_list(value) if type(item) is dict]


# message: the SMTP session, the envelope and the headers


def header(event: Event, name: str) -> Any:
    """A header from the normalised copy (lower-case names), else from the raw headers."""
    return Headers(event).get(name)


class Headers:
    """The headers of one message, for reading many: each copy is looked up once."""

    __slots__ = ("normalised", "raw")

    def __init__(self, event: Event) -> None:
        msg = section(event, "msg")
        self.normalised, self.raw = section(msg, "normalizedHeader"), section(msg, "header")

    def get(self, name: str) -> Any:
        value = self.normalised.get(name)
        return value if value is not None else self.raw.get(name)


def raw_header(event: Event, name: str) -> Any:
    """A header as the message carried it (Elastic's pipeline reads these)."""
    return dig(event, "msg", "header", name)


def parsed(event: Event, name: str) -> list[Any]:
    """PoD's parsed addresses of a header (`from`, `to`, `cc`, `reply-to`); `{}` when none."""
    return as_list(dig(event, "msg", "parsedAddresses", name))


def envelope_from(event: Event) -> Any:
    return dig(event, "envelope", "from")


def envelope_rcpts(event: Event) -> list[Any]:
    return as_list(dig(event, "envelope", "rcpts"))


def verified_rcpts(event: Event) -> list[Any]:
    return as_list(dig(event, "filter", "verified", "rcpts"))


def message_size(event: Event) -> int | float | None:
    return number(dig(event, "filter", "msgSizeBytes") or dig(event, "msg", "sizeBytes"))


def connection(event: Event) -> dict[str, Any]:
    """The SMTP session: ip, host, helo, country (`**` unknown), sid, protocol, tls."""
    return section(event, "connection")


def tls_inbound(event: Event) -> dict[str, Any]:
    return section(event, "connection", "tls", "inbound")


# message: what the filter decided


def verdict(event: Event) -> dict[str, Any]:
    """`filter`: routeDirection, disposition, qid, mid, origGuid, startTime, durationSecs,
    quarantine, throttleIp, ... (its lists and modules have readers of their own)."""
    return section(event, "filter")


def quarantine(event: Event) -> dict[str, Any]:
    return section(event, "filter", "quarantine")


def final_action(event: Event) -> dict[str, Any]:
    """The `filter.actions[]` entry marked final (`isFinal` true or "True"), or an empty map."""
    actions = maps(dig(event, "filter", "actions"))
    return next((action for action in actions if truthy(action.get("isFinal"))), {})


def elastic_final_action(event: Event) -> Any:
    """`final_action` at the top of the event: Elastic's samples have it (PoD's own shape has the
    final entry of `filter.actions`), and Elastic's pipeline reads it there."""
    return event.get("final_action")


def elastic_final_rule(event: Event) -> Any:
    return event.get("final_rule")


def scores(event: Event) -> dict[str, int | float | None]:
    """Each classifier's score by name (SCORES), and `overall` and `engine`."""
    found = section(event, "filter", "modules", "spam", "scores")
    classifiers = section(found, "classifiers")
    named = {name: number(classifiers.get(name)) for name in SCORES} if classifiers else dict(_NO_SCORES)
    named["overall"], named["engine"] = number(found.get("overall")), number(found.get("engine"))
    return named


_NO_SCORES: dict[str, int | float | None] = dict.fromkeys(SCORES)


def virus_names(event: Event) -> list[Any]:
    return as_list(dig(event, "filter", "modules", "av", "virusNames"))


def dkim_results(event: Event) -> list[dict[str, Any]]:
    """The DKIM verifications (domain, selector, result)."""
    return maps(dig(event, "filter", "modules", "dkimv"))


def dkim(event: Event) -> dict[str, Any]:
    """The first DKIM verification."""
    return next(iter(dkim_results(event)), {})


def module(event: Event, name: str) -> dict[str, Any]:
    """One filter module's section (`spf`, `dmarc`, `av`, `urldefense`, ...)."""
    return section(event, "filter", "modules", name)


def dmarc_identities(event: Event) -> list[dict[str, Any]]:
    """The identities DMARC checked, one map per result (keys with dots: `smtp.mailfrom`,
    `header.from`)."""
    results = maps(section(event, "filter", "modules", "dmarc").get("authResults"))
    return [section(result, "emailIdentities") for result in results]


# message: its parts, their names and the URLs found in them


def parts(event: Event) -> list[dict[str, Any]]:
    return maps(event.get("msgParts"))


def part_name(part: dict[str, Any]) -> Any:
    return part.get("detectedName") or part.get("labeledName")


def part_mime(part: dict[str, Any]) -> Any:
    return part.get("detectedMime") or part.get("labeledMime")


def part_ext(part: dict[str, Any]) -> Any:
    return part.get("detectedExt") or part.get("labeledExt")


def part_size(part: dict[str, Any]) -> int | float | None:
    return number(part.get("detectedSizeBytes") or part.get("sizeDecodedBytes"))


def part_urls(event: Event, found: list[dict[str, Any]] | None = None) -> list[Any]:
    """Every `msgParts[].urls[].url`, in order, repeats included (of `found`, the parts already
    read, where given)."""
    return [entry.get("url") for part in found or parts(event) for entry in maps(part.get("urls"))]


def urls(event: Event, found: list[dict[str, Any]] | None = None) -> list[str]:
    """The URLs of the parts, each once."""
    return list(dict.fromkeys(url for url in part_urls(event, found) if isinstance(url, str)))


# every type: the PoD node that reported the event


def reporters(event: Event) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two places PoD names its node in: `metadata.origin.data` and the older `pps`."""
    return section(event, "metadata", "origin", "data"), section(event, "pps")


def origin(event: Event) -> dict[str, Any]:
    """agent, cid and version from `metadata.origin.data`, else from the older `pps`."""
    data, pps = reporters(event)
    return {key: data.get(key) or pps.get(key) for key in ("agent", "cid", "version")}


# maillog: one sendmail line


def sendmail(event: Event) -> dict[str, Any]:
    """The key=value pairs of the line (`sm`), values as strings; read from the line itself
    where PoD sent `sm` empty or not at all."""
    sm = section(event, "sm")
    return sm if sm else line_fields(sendmail_line(event))


_QID = re.compile(r"sendmail\[\d+\]: (\w+): ")
_PAIR = re.compile(r"([A-Za-z_][\w.]*)=(.*?)(?=, [A-Za-z_][\w.]*=|$)")
_SM_NAMES = {"size": "sizeBytes", "tls_verify": "tls.verify"}  # where `sm` names a key otherwise


def line_fields(line: Any) -> dict[str, Any]:
    """`sm` as PoD would have parsed it from a sendmail line (`to` a list, the rest strings)."""
    found = _QID.search(line) if isinstance(line, str) else None
    if found is None:
        return {}
    pairs = {_SM_NAMES.get(key, key): value for key, value in _PAIR.findall(line[found.end() :])}
    if "to" in pairs:
        pairs["to"] = [pairs["to"]]
    return {"qid": found.group(1)} | pairs


def sendmail_line(event: Event) -> Any:
    return event.get("data")


def maillog_tls(event: Event) -> dict[str, Any]:
    """version, cipher, verify (from `tls`, verify else from `sm`)."""
    tls = section(event, "tls")
    verify = tls.get("verify") or sendmail(event).get("tls.verify")
    return {"version": tls.get("version"), "cipher": tls.get("cipher"), "verify": verify}


# audit: who did what to which object


def audit(event: Event) -> dict[str, Any]:
    return section(event, "audit")


def audit_action(event: Event) -> str:
    """PoD's action, lower-case (login, logout, create, edit, delete, read, execute, download)."""
    return str(audit(event).get("action") or "").lower()


def actor(event: Event) -> dict[str, Any]:
    """The administrator: email, id, ip (ipAddress), roles (rolesAssigned, a list)."""
    user = section(audit(event), "user")
    roles = as_list(user.get("rolesAssigned"))
    return {"email": user.get("email"), "id": user.get("id"), "ip": user.get("ipAddress"), "roles": roles}


def audit_service(event: Event) -> dict[str, Any]:
    """The PoD service the action was taken on: cid, customerId, id, ipAddress."""
    return section(audit(event), "service")


def audit_tags(event: Event) -> list[dict[str, Any]]:
    return maps(audit(event).get("tags"))
