"""JSON in and out of the hot path: frames to events, records to NDJSON lines.

orjson parses about 1.5x and serialises about 4x faster than the standard library here (measured
in tests/benchmarks/harness.py), and JSON is most of the per-event work. Where orjson refuses what
the standard library accepts (lone surrogates, NaN, a byte-order mark; integers beyond 64 bits on
output), the standard library takes over, so the choice of parser never loses an event. orjson
reads integers beyond 64 bits as floats; PoD sends none, and SIEMs read JSON numbers as doubles.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import orjson


class RawJSON:
    """JSON text that a record carries as it is (an original event): embedded unparsed in a line."""

    __slots__ = ("text",)

    def __init__(self, text: bytes) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({len(self.text)} bytes)"


def _embed(value: Any) -> Any:
    if type(value) is RawJSON:
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def unembedded(value: Any) -> Any:
    """A RawJSON as the value it holds: for encoders that cannot embed JSON text (the standard
    library's, msgpack), as their `default`."""
    if type(value) is RawJSON:
        return loads(value.text)
    raise TypeError(f"{type(value).__name__} is not serialisable")


# ASCII escapes keep the fallback's output valid UTF-8 even for a lone surrogate.
_fallback = json.JSONEncoder(
    ensure_ascii=True, separators=(",", ":"), check_circular=False, default=unembedded
)


def parse(data: bytes | str) -> tuple[Any, bool]:
    """The JSON value of `data`, and whether it was strict RFC 8259 JSON (what orjson takes);
    ValueError (or UnicodeDecodeError) when it is not JSON at all."""
    try:
        return orjson.loads(data), True
    except orjson.JSONDecodeError:
        return json.loads(data), False


def loads(data: bytes | str) -> Any:
    """The JSON value of `data`; ValueError (or UnicodeDecodeError) when it is not JSON."""
    return parse(data)[0]


def dumps(record: dict[str, Any]) -> bytes:
    """One record as compact UTF-8 JSON."""
    try:
        return orjson.dumps(record, default=_embed)
    except TypeError:
        return _fallback.encode(record).encode()


def ndjson_line(record: dict[str, Any]) -> bytes:
    return dumps(record) + b"\n"


def ndjson_batch(records: Iterable[dict[str, Any]]) -> bytes:
    """A whole batch as one buffer, so that it is written with one call."""
    return b"".join([dumps(record) + b"\n" for record in records])


def lenient(value: Any) -> Any:
    """`value` with every key a str and every leaf a JSON type (others as their repr): what a
    dead-letter file can always hold of a record that no encoder took."""
    if isinstance(value, dict):
        return {key if isinstance(key, str) else repr(key): lenient(item) for key, item in value.items()}
    if type(value) in (list, tuple):  # not a NamedTuple such as msgpack's ExtType: its repr says more
        return [lenient(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if type(value) is RawJSON:
        return value.text.decode("utf-8", "replace")
    return repr(value)
