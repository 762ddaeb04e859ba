"""Records as NDJSON: one UTF-8 JSON object per line (newlines inside strings are escaped)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def ndjson_line(record: dict[str, Any]) -> bytes:
    return (_encoder.encode(record) + "\n").encode()


def ndjson_batch(records: Iterable[dict[str, Any]]) -> bytes:
    """A whole batch as one buffer, so that it is written with one call."""
    return "".join(_encoder.encode(record) + "\n" for record in records).encode()
