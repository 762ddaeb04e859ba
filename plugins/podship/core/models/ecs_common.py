"""What the ECS model's parts share: `related.*`, the observer, TLS, and whether a value is an IP
(core/addresses.py).

Apart from `ecs.py`, so that `ecs.py` (every kind's envelope, maillog and audit) and
`ecs_message.py` (message events) both import it and neither imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from podship.core.addresses import is_ip
from podship.core.event import readers as pod

OBSERVER = {"vendor": "Proofpoint", "product": "Proofpoint On Demand"}


class Related:
    """related.* lists, in insertion order, without duplicates (the pipelines' allow_duplicates: false)."""

    def __init__(self) -> None:
        self.fields: dict[str, list[Any]] = {}

    def add(self, name: str, values: Iterable[Any]) -> None:
        bucket = self.fields.setdefault(name, [])
        for value in values:  # a loop, not extend(generator): ~12 calls per event
            if isinstance(value, str) and value not in bucket and value.strip():
                bucket.append(value)

    def host_or_ip(self, value: Any) -> None:
        self.add("ip" if is_ip(value) else "hosts", [value])


def tls(cipher: Any, version: Any) -> dict[str, Any]:
    """`TLSv1.2` -> version_protocol `tls`, version `1.2`; `NONE` means no TLS."""
    protocol, _, number = str(version or "").partition("v")
    found = {"cipher": cipher if cipher != "NONE" else None}
    if number and protocol:
        found |= {"version_protocol": protocol.lower(), "version": number}
    return found


def observer(event: dict[str, Any], related: Related) -> dict[str, Any]:
    """metadata.origin.data, overridden by pps where both are present (as the pipeline does)."""
    origin, pps = pod.reporters(event)
    related.add("hosts", [origin.get("agent"), pps.get("agent")])

    def pick(name: str) -> Any:
        return pps.get(name) or origin.get(name)

    return OBSERVER | {
        "type": "mail-gateway",
        "hostname": pick("agent"),
        "name": pick("cid"),
        "version": None if pick("version") is None else str(pick("version")),
    }
