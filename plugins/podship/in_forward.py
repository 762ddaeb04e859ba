"""`forward` input: a Fluent Forward receiver, so that Fluent Bit's or Fluentd's `out_forward` (or
another podship) can hand records to podship's filters and outputs (`podship relay`).

It accepts every entry form senders use: Message, Forward, PackedForward (str or bin) and gzip
CompressedPackedForward; times as int, float, EventTime, or Fluent Bit's `[EventTime, metadata]`
pair. A chunk is acked only when podship's own outputs have taken every record of it, so the sender
re-sends whatever podship could not deliver.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import logging
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgpack

from podship.errors import PodshipError
from podship.in_proofpoint import Stats
from podship.options import Option, OptionTable
from podship.source import Item

OPTIONS = OptionTable(
    plugin="forward",
    kind="input",
    summary="Receives records with the Fluent Forward protocol (for `podship relay`); acks after delivery.",
    options=(
        Option("alias", "str", "", "Input name in logs and status (default `forward-<port>`)."),
        Option("listen", "str", "127.0.0.1", "Address to listen on."),
        Option("port", "int", 24224, "Port to listen on (0: any free port).", minimum=0, maximum=65535),
        Option(
            "max_frame_bytes",
            "size",
            64 << 20,
            "Largest message accepted; a larger one closes the connection.",
            minimum=1024,
        ),
    ),
)
log = logging.getLogger("podship.relay")


def check(values: dict[str, Any], path: str) -> None:
    values["alias"] = values["alias"] or f"forward-{values['port']}"


def _time(value: Any) -> int:
    """Epoch milliseconds from an int, a float, an EventTime, or `[EventTime, metadata]`."""
    if isinstance(value, list) and value:
        value = value[0]
    if isinstance(value, msgpack.ExtType) and value.code == 0:
        seconds, nanos = struct.unpack(">II", value.data)
        return int(seconds) * 1000 + int(nanos) // 1_000_000
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value * 1000)
    raise ValueError(f"not a Forward time: {value!r}")


def entries_of(message: Any) -> tuple[str, list[tuple[Any, Any]], dict[str, Any]]:
    """Tag, `(time, record)` entries and options of one Forward message, in any of its modes."""
    if not isinstance(message, list) or len(message) < 2 or not isinstance(message[0], str):
        raise ValueError("not a Forward message")
    tag, second = message[0], message[1]
    if isinstance(second, bytes | str):  # PackedForward
        options = message[2] if len(message) > 2 and isinstance(message[2], dict) else {}
        body = second.encode() if isinstance(second, str) else second
        if options.get("compressed") == "gzip":
            body = gzip.decompress(body)
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(body)
        return tag, [tuple(item) for item in unpacker], options
    if isinstance(second, list):  # Forward
        options = message[2] if len(message) > 2 and isinstance(message[2], dict) else {}
        return tag, [tuple(item) for item in second], options
    options = message[3] if len(message) > 3 and isinstance(message[3], dict) else {}  # Message
    return tag, [(second, message[2])], options


@dataclass
class _Chunk:
    writer: asyncio.StreamWriter
    chunk_id: str | None
    waiting: int


class ForwardInput:
    """A Forward receiver feeding the pipeline."""

    kind = "forward"

    def __init__(self, values: dict[str, Any], emit: Callable[[Item], Awaitable[None]]) -> None:
        self.values, self.emit = values, emit
        self.name: str = values["alias"] or f"forward-{values['port']}"
        self.stopping = asyncio.Event()
        self.listening = asyncio.Event()
        self.failure: PodshipError | None = None
        self.stats = Stats()
        self.port = 0
        self._owners: dict[str, _Chunk] = {}
        self._serial = itertools.count()

    async def run(self) -> None:
        server = await asyncio.start_server(self._serve, self.values["listen"], self.values["port"])
        self.port = server.sockets[0].getsockname()[1]
        self.stats.mode = "live"
        self.listening.set()
        log.info("relay listening on %s:%d", self.values["listen"], self.port)
        async with server:
            await self.stopping.wait()
        self.stats.mode = "stopped"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        unpacker = msgpack.Unpacker(
            raw=False, strict_map_key=False, max_buffer_size=self.values["max_frame_bytes"]
        )
        try:
            while data := await reader.read(1 << 16):
                unpacker.feed(data)
                for message in unpacker:
                    await self._take(message, writer)
        except (ValueError, msgpack.UnpackException, ConnectionError) as exc:
            log.warning("relay: closing a connection: %s", exc)
        finally:
            writer.close()

    async def _take(self, message: Any, writer: asyncio.StreamWriter) -> None:
        _, entries, options = entries_of(message)
        chunk = _Chunk(writer, options.get("chunk"), len(entries))
        if not entries:
            self._ack(chunk)
        for time, record in entries:
            key = str(next(self._serial))
            self._owners[key] = chunk
            self.stats.events += 1
            await self.emit(Item(record, self, key, _time(time)))

    def acked(self, pairs: list[tuple[str, int]]) -> None:
        """The outputs have these records; a chunk whose records all arrived is acked to its sender."""
        for key, _ in pairs:
            chunk = self._owners.pop(key)
            chunk.waiting -= 1
            if chunk.waiting == 0:
                self._ack(chunk)

    @staticmethod
    def _ack(chunk: _Chunk) -> None:
        if chunk.chunk_id is not None and not chunk.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                chunk.writer.write(msgpack.packb({"ack": chunk.chunk_id}))

    def commit(self, *, final: bool = False) -> None:
        return None
