"""`stdout` output: one record per line for Fluent Bit `exec` and Vector `exec`.

A batch counts as acknowledged once it is written and flushed. The write runs in a thread so that a
reader who stops reading blocks this output (backpressure up to the WebSocket) without freezing the
event loop, whose keep-alive pings must go on.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections import Counter
from typing import Any, BinaryIO

from podship.core.encode_json import ndjson_batch
from podship.core.models import render_all
from podship.errors import OutputError, ReaderClosed
from podship.runtime.fragments import MODEL_OPTIONS, TAGS
from podship.runtime.options import Option, OptionTable
from podship.runtime.plugin import Plugin

OPTIONS = OptionTable(
    plugin="stdout",
    kind="output",
    summary="Writes one JSON record per line to standard output (logs go to stderr).",
    options=(
        Option(
            "format",
            "str",
            "json_lines",
            "Line format: one syslog-index record per line.",
            choices=("json_lines",),
        ),
        TAGS,
        *MODEL_OPTIONS,
    ),
)


class StdoutOutput:
    name = "stdout"

    def __init__(self, values: dict[str, Any], stream: BinaryIO | None = None) -> None:
        self.values = values
        self.tags = frozenset(values.get("tags") or ())
        self.stream = stream if stream is not None else sys.stdout.buffer

    async def start(self) -> None:
        return None

    async def write(self, records: list[dict[str, Any]]) -> None:
        data = ndjson_batch(render_all(records, self.values))
        written = await asyncio.to_thread(self._write, data)
        if written < len(data):  # `| head`: the lines written whole are what the reader was given
            whole = records[: data.count(b"\n", 0, written)]
            raise ReaderClosed(Counter(str(record.get("connector", "")) for record in whole))

    def _write(self, data: bytes) -> int:
        """Every byte, or as many as the reader took before it closed the pipe: os.write in a loop,
        because a buffered writer interrupted in the middle of a large write to a full pipe was
        seen to drop part of it (under py-spy)."""
        view = memoryview(data)
        try:
            self.stream.flush()
            fd = self.stream.fileno()
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            pass
        except OSError as exc:
            raise OutputError(f"stdout: {exc.strerror}") from None
        return len(data) - len(view)

    async def close(self) -> None:
        return None


PLUGIN = Plugin("stdout", "outputs", OPTIONS, lambda site, values: StdoutOutput(values))
