"""Logging: always to stderr (stdout carries records), with the connector name on every line."""

from __future__ import annotations

import json
import logging
import sys

from podship.core.pod import iso_utc


class _Connector(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "connector"):
            record.connector = "-"
        return True


class _Utc(logging.Formatter):
    """Times in UTC, ISO 8601 with milliseconds and the zone: `2026-11-29T07:40:12.345Z`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return iso_utc(int(record.created * 1000))


class _Json(_Utc):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname.lower(),
            "connector": getattr(record, "connector", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str = "info", style: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Connector())
    text = _Utc("%(asctime)s %(levelname)s [%(connector)s] %(name)s: %(message)s")
    handler.setFormatter(_Json() if style == "json" else text)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The WebSocket library logs request headers at debug level: the API key must never get there.
    logging.getLogger("podship.websockets").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
