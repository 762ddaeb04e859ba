"""Where PoD holds each thing a privacy rule names, and how to hide it there.

A rule names what to hide (`mask: {what: [recipients, senders], with: hash}`), not where it is:
PoD holds a recipient in up to eleven places of a message event (the envelope, the delivered,
verified and encrypted recipient lists, three header copies) and in the text of a sendmail line,
and a user who lists paths misses some. Each meaning's places are listed here once.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Callable
from typing import Any

from podship.core import paths

Change = Callable[[str], str]
MEANINGS = ("recipients", "senders", "subjects", "attachment_names", "urls", "client_ips")
ADDRESSES = frozenset({"recipients", "senders"})  # hidden address by address, keeping the shape
_HEADERS = (("msg", "header"), ("msg", "normalizedHeader"))
_RCPT_HEADERS = ("to", "cc", "bcc", "delivered-to", "x-original-to", "x-rcpt-to")
_FROM_HEADERS = ("from", "reply-to", "sender", "return-path")
_IDENTITY = ("filter", "modules", "dmarc", "authResults", "emailIdentities", "smtp.mailfrom")
_EVENT_PLACES: dict[str, dict[str, list[paths.Path]]] = {
    "recipients": {
        "message": [
            ("envelope", "rcpts"),
            ("filter", "delivered", "rcpts"),
            ("filter", "verified", "rcpts"),
            ("filter", "pe", "rcpts"),
            *((*where, name) for where in _HEADERS for name in _RCPT_HEADERS),
            *(("msg", "parsedAddresses", name) for name in ("to", "cc", "bcc")),
        ],
        "maillog": [("sm", "to"), ("sm", "ctladdr")],
    },
    "senders": {
        "message": [
            ("envelope", "from"),
            _IDENTITY,
            *((*where, name) for where in _HEADERS for name in _FROM_HEADERS),
            *(("msg", "parsedAddresses", name) for name in ("from", "reply-to", "fromDisplayNames")),
        ],
        "maillog": [("sm", "from"), ("sm", "ctladdr")],
    },
    "subjects": {"message": [(*where, "subject") for where in _HEADERS]},
    "attachment_names": {"message": [("msgParts", "labeledName"), ("msgParts", "detectedName")]},
    "urls": {"message": [("msgParts", "urls", "url"), ("filter", "modules", "urldefense", "rewrittenUrls")]},
    "client_ips": {
        "message": [("connection", "ip"), ("filter", "throttleIp")],
        "audit": [("audit", "user", "ipAddress")],
    },
}
_LINE_KEYS = {"recipients": ("to", "ctladdr"), "senders": ("from", "ctladdr")}  # of a sendmail line
ADDRESS = re.compile(r"[^\s<>,;:\"'()\[\]@]+@[^\s<>,;:\"'()\[\]@]+")
_DISPLAY_NAME = re.compile(r'(?:"[^"]*"|[^<>,"])+(?=<)')
_VALUE = re.compile(r"\b(to|from|ctladdr|relay)=(.*?)(?=, [A-Za-z_][\w.]*=|$)")
_BRACKETED_IP = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]+)\]")


def hide(meaning: str, change: Change) -> Callable[[Any], Any]:
    """How one value of `meaning` is hidden: addresses one by one, an IP as an IP, anything else
    whole."""
    if meaning in ADDRESSES:
        return lambda value: hide_addresses(value, change)
    return (lambda value: ip_token(value, change)) if meaning == "client_ips" else _whole(change)


def ip_token(value: Any, change: Change) -> Any:
    """An address in the IPv6 documentation prefix 2001:db8::/32 (RFC 3849), from the change of
    `value`: the same IP hides as the same address, and a model that needs an IP (OCSF's ip_t)
    still gets one."""
    if value in (None, ""):
        return value
    digest = hashlib.sha256(change(str(value)).encode()).digest()[:12]
    return str(ipaddress.IPv6Address(b"\x20\x01\x0d\xb8" + digest))


def _whole(change: Change) -> Callable[[Any], Any]:
    return lambda value: change(str(value)) if value not in (None, "") else value


def hide_addresses(value: Any, change: Change) -> Any:
    """Each address in `value` becomes the address-shaped token of its change (so that a model
    that needs an address, OCSF's email_t, still gets one), display names go, and a value that
    is no address (a file, a program, `REDACTED`) is changed whole; `<>` and blanks stay."""
    if not isinstance(value, str) or value.strip() in ("", "<>"):
        return value
    if not ADDRESS.search(value):
        return change(value)
    hidden = ADDRESS.sub(lambda found: token(found.group(0), change), value)
    return _DISPLAY_NAME.sub("", hidden).strip()


def token(address: str, change: Change) -> str:
    """`address` changed, shaped as an address in the reserved `.invalid` domain."""
    changed = change(address)
    return changed if ADDRESS.fullmatch(changed) else re.sub(r"[^\w.+*-]", "-", changed) + "@masked.invalid"


def mask(event: dict[str, Any], kind: str, meanings: tuple[str, ...], change: Change) -> frozenset[str]:
    """Hide every value of each meaning wherever PoD holds it in `event` (edited in place); an
    address so hidden is hidden wherever else the event names it too (a recipient who is also
    the Reply-To, a cron mail to its own sender). Returns those addresses."""
    hidden = frozenset(address for meaning in meanings for address in addresses_at(event, kind, meaning))
    for meaning in meanings:
        conceal = hide(meaning, change)
        for path in _EVENT_PLACES[meaning].get(kind, []):
            _conceal(event, path, conceal)
    if kind == "maillog" and isinstance(event.get("data"), str):
        event["data"] = hide_in_line(event["data"], meanings, change)
    if kind == "maillog" and "client_ips" in meanings:
        mask_client_relay(event, change)
    if hidden:
        hide_everywhere(event, kind, hidden, change)
    return hidden


def addresses_at(event: dict[str, Any], kind: str, meaning: str) -> set[str]:
    """The addresses PoD holds as `meaning` (empty for meanings that are not addresses)."""
    if meaning not in ADDRESSES:
        return set()
    texts = [value for path in _EVENT_PLACES[meaning].get(kind, []) for value in paths.values(event, path)]
    if kind == "maillog" and isinstance(event.get("data"), str):
        texts += [value for key, value in _VALUE.findall(event["data"]) if key in _LINE_KEYS[meaning]]
    return {found for text in texts if isinstance(text, str) for found in ADDRESS.findall(text)}


def hide_everywhere(event: dict[str, Any], kind: str, hidden: frozenset[str], change: Change) -> None:
    """`hidden` addresses hidden in every place that holds addresses, whatever its meaning."""
    only = hide_only(hidden, change)
    for meaning in ADDRESSES:
        for path in _EVENT_PLACES[meaning].get(kind, []):
            _conceal(event, path, only)
    if kind == "maillog" and isinstance(event.get("data"), str):
        event["data"] = _VALUE.sub(lambda found: _in_line(found, only), event["data"])


def _in_line(found: re.Match[str], only: Callable[[Any], Any]) -> str:
    key, value = found.group(1), found.group(2)
    return f"{key}={only(value)}" if key in ("to", "from", "ctladdr") else found.group(0)


def hide_only(hidden: frozenset[str], change: Change) -> Callable[[Any], Any]:
    """Each of the `hidden` addresses in a value replaced by its token; the rest of it kept."""

    def one(value: Any) -> Any:
        if not isinstance(value, str):
            return value
        return ADDRESS.sub(lambda found: token(found[0], change) if found[0] in hidden else found[0], value)

    return one


def _conceal(event: dict[str, Any], path: paths.Path, conceal: Callable[[Any], Any]) -> None:
    """`filter.pe.rcpts` is a list or an object: every string inside it is hidden."""
    paths.replace(event, path, lambda value: _deep(value, conceal))


def _deep(value: Any, conceal: Callable[[Any], Any]) -> Any:
    if isinstance(value, dict):
        return {key: _deep(item, conceal) for key, item in value.items()}
    if isinstance(value, list):
        return [_deep(item, conceal) for item in value]
    return conceal(value)


def hide_in_line(line: str, meanings: tuple[str, ...], change: Change) -> str:
    """The `to=`, `from=`, `ctladdr=` values (and the client's `relay=` address) of a sendmail
    line hidden as the `sm` fields they were parsed into are."""
    keys = {key for meaning in meanings for key in _LINE_KEYS.get(meaning, ())}
    client = "client_ips" in meanings and " from=" in line

    def one(found: re.Match[str]) -> str:
        key, value = found.group(1), found.group(2)
        if key in keys:
            return f"{key}={hide_addresses(value, change)}"
        if key == "relay" and client:
            return f"{key}={hide_relay_ip(value, change)}"
        return found.group(0)

    return _VALUE.sub(one, line)


def hide_relay_ip(relay: Any, change: Change) -> Any:
    """`host [10.1.2.3]`: the address in brackets changed."""
    if not isinstance(relay, str):
        return relay
    return _BRACKETED_IP.sub(lambda found: f"[IPv6:{ip_token(found.group(1), change)}]", relay)


def mask_client_relay(event: dict[str, Any], change: Change) -> None:
    """A maillog `from=` line's relay is the client that handed the message over."""
    sm = event.get("sm")
    if isinstance(sm, dict) and "from" in sm and "relay" in sm:
        sm["relay"] = hide_relay_ip(sm["relay"], change)
