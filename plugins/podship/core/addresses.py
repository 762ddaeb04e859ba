"""IP addresses in event fields, read cheaply: most fields tested are host names, not addresses.

ipaddress raises for a host name twice (as IPv4, then as IPv6), about 4 us; a host name holds
neither a dotted quad nor a colon, so it is told apart here without an exception.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(r"\.".join([_OCTET] * 4))  # the dotted quad ipaddress takes, nothing more


def ip_value(text: str) -> tuple[int, int] | None:
    """An IP address as (version, integer), or None: what ipaddress.ip_address takes."""
    quad = _IPV4.fullmatch(text)
    if quad is not None:
        return 4, int.from_bytes(bytes(map(int, quad.groups())), "big")
    address = _colon_form(text)
    return None if address is None else (address.version, int(address))


def is_ip(value: Any) -> bool:
    """Whether `value` is an IP address (a dotted quad is told by the pattern alone: 0.15 us,
    against 0.95 to compute its integer too)."""
    text = str(value)
    return _IPV4.fullmatch(text) is not None or _colon_form(text) is not None


def normal_ip(text: str) -> str | None:
    """An IP address in its normal form (IPv6 compressed, lower case), or None: a dotted quad
    `ip_value` takes is in it already."""
    if _IPV4.fullmatch(text) is not None:
        return text
    address = _colon_form(text)
    return None if address is None else str(address)


def _colon_form(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """What ipaddress takes of a text that holds a colon (every IPv6 form has one), else None."""
    if ":" not in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
