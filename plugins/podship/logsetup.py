"""Logging: always to stderr (stdout carries records), with the connector name on every line."""

from __future__ import annotations

import logging
import sys


class _Connector(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "connector"):
            record.connector = "-"
        return True


def configure(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Connector())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(connector)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The WebSocket library logs request headers at debug level: the API key must never get there.
    logging.getLogger("podship.websockets").setLevel(logging.WARNING)
    logging.getLogger("websockets").setLevel(logging.WARNING)
