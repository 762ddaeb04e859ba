"""`stdout` output: one record per line for Fluent Bit `exec` and Vector `exec`.

A batch counts as acknowledged once it is written and flushed. The write runs in a thread so that a
reader who stops reading blocks this output (backpressure up to the WebSocket) without freezing the
event loop, whose keep-alive pings must go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import sys
from collections import Counter
from dataclasses import dataclass
from typing import BinaryIO

from podship.core.encode_json import ndjson_line
from podship.core.event.envelope import Event
from podship.core.models import renderer
from podship.errors import OutputError, ReaderClosed
from podship.runtime.fragments import MODEL_OPTIONS, TAGS, ModelChoice
from podship.runtime.options import Option, OptionTable
from podship.runtime.plugin import Encoded, Plugin


@dataclass(frozen=True, slots=True)
class StdoutOptions(ModelChoice):
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    format: str
    tags: tuple[str, ...]


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
    shape=StdoutOptions,
)


class StdoutOutput:
    name = "stdout"
    reconnect_max = 30.0

    def __init__(self, options: StdoutOptions, stream: BinaryIO | None = None) -> None:
        self.options = options
        self.tags = frozenset(options.tags)
        self.render = renderer(options.schema, options.original)
        self.stream = stream if stream is not None else sys.stdout.buffer
        self._done = 0  # bytes of the batch being sent that are written already

    async def start(self) -> None:
        """A file that ends in a torn line (stdout appended to the same file by a process killed in
        the middle of a write) gets that line ended first: otherwise our first record would join
        it, and a reader that parses lines would lose a record that was delivered."""
        with contextlib.suppress(OSError, ValueError):
            fd = self.stream.fileno()
            info = os.fstat(fd)
            if stat.S_ISREG(info.st_mode) and info.st_size and _last_byte(fd) != b"\n":
                os.write(fd, b"\n")

    def encode(self, event: Event) -> Encoded:
        """The line, grouped by connector: what a reader that closes the pipe was given is counted
        per connector."""
        return Encoded(ndjson_line(self.render(event)), event.context.get("connector", ""))

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        """The whole batch in one write, so that a reader sees whole lines; an attempt after a
        failed one writes only what the failed one had not (no line twice, none torn)."""
        data = b"".join([line.data for line in batch])
        if attempt == 0:
            self._done = 0
        written = self._done + await asyncio.to_thread(self._write, memoryview(data)[self._done :])
        if written < len(data):  # `| head`: the lines written whole are what the reader was given
            whole = batch[: data.count(b"\n", 0, written)]
            raise ReaderClosed(Counter(line.group for line in whole))

    def _write(self, data: memoryview) -> int:
        """Every byte, or as many as the reader took before it closed the pipe: os.write in a loop,
        because a buffered writer interrupted in the middle of a large write to a full pipe was
        seen to drop part of it (under py-spy)."""
        view = data
        try:
            self.stream.flush()
            fd = self.stream.fileno()
            while view:
                view = view[os.write(fd, view) :]
        except BrokenPipeError:
            pass
        except OSError as exc:
            self._done += len(data) - len(view)
            raise OutputError(f"stdout: {exc.strerror}") from None
        return len(data) - len(view)

    async def close(self) -> None:
        return None


def _last_byte(fd: int) -> bytes:
    """The last byte of the file open as `fd`, opened again for reading (stdout is write-only)."""
    with open(f"/proc/self/fd/{fd}", "rb") as file:
        file.seek(-1, os.SEEK_END)
        return file.read(1)


PLUGIN = Plugin("stdout", "outputs", OPTIONS, lambda site, options: StdoutOutput(options))
