"""Durations and sizes as people write them in a configuration: `30s`, `7d`, `512KiB`."""

from __future__ import annotations

import math
import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}


def parse_duration(value: object) -> float:
    """Seconds from `30s`, `30m`, `6h`, `7d` or `250ms`; a bare number is refused (but 0): `7` could
    mean seven days as well as seven seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m, 6h or 7d")
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"expected a duration such as 30s, 5m, 6h or 7d, got {value!r}")
    if match.group(2) is None and float(match.group(1)) != 0:
        number = match.group(1)
        raise ValueError(f"{number} has no unit: add one ({number}s, {number}m, {number}h or {number}d)")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def parse_size(value: object) -> int:
    """Bytes from `1048576`, `512KiB`, `16MiB` or `1GB`."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 16MiB")
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"expected a size such as 4096, 512KiB or 16MiB, got {value!r}")
    return int(match.group(1)) * _SIZE_UNITS[(match.group(2) or "b").lower()]


def render_duration(seconds: float) -> str:
    """`604800` -> `7d`, `90` -> `90s`, `0.2` -> `0.2s`: the largest unit that divides evenly."""
    for unit in ("d", "h", "m"):
        size = _DURATION_UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def render_size(size: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


def counted(count: int, noun: str) -> str:
    """`1 hole`, `2 holes`: log lines read as sentences (every noun podship counts is regular)."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def render_span(seconds: float) -> str:
    """`45s`, `6m15s`, `2h10m`: a time left, to the second under an hour, rounded up (a fast
    hour is `about 1s left`, never `0s` while work remains)."""
    seconds = float(math.ceil(seconds))
    minutes = int(seconds // 60)
    if minutes >= 60:
        return f"{minutes // 60}h{minutes % 60:02d}m"
    return f"{minutes}m{int(seconds % 60):02d}s" if minutes else f"{int(seconds)}s"
