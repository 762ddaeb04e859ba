"""`forward` output: Fluent Forward protocol v1 with acknowledgements, into Fluent Bit `in_forward`,
Fluentd `in_forward` or Vector's `fluent` source.

A batch is acknowledged to the pipeline only when the receiver has acked every chunk of it. A chunk
that is not acked in time, refused with `{}`, or cut by a closed connection fails the attempt; the
pipeline tries again with its backoff, and the chunk goes again with the same chunk id over a new
connection; meanwhile the pipeline waits, so backpressure reaches the WebSocket and nothing is
dropped. Frames stay under `max_frame_bytes` (Fluent Bit closes the
connection, without an ack, on frames over 6,144,000 bytes); a single record larger than that is
dead-lettered or trimmed, as `oversize` says, instead of being re-sent forever.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import socket
import ssl
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any

from podship.core import encode_forward as fwd
from podship.core import records
from podship.core.event.envelope import ORIGINAL_KEY, Event
from podship.core.models import renderer, slim
from podship.core.records import DEFAULT, Record
from podship.errors import OutputError, PodshipError, RecordError
from podship.outputs.forward_options import OPTIONS, ForwardOptions, check
from podship.runtime.netio import mapped
from podship.runtime.options import Secret
from podship.runtime.plugin import Encoded, Plugin
from podship.runtime.tls import client_context

log = logging.getLogger("podship.forward")


class Refused(PodshipError):
    """The receiver answered `{}` for a chunk: it could not take it."""

    retryable = True


class ForwardOutput:
    name = "forward"

    def __init__(self, options: ForwardOptions) -> None:
        self.options = options
        self.tags = frozenset(options.tags)
        # the entry is in this model; the tag reads the syslog-index record
        # the entry is in this model; the tag reads the syslog-index record
        self.render = renderer(options.schema, options.original)
        self.targets = [_target(spec) for spec in options.servers] or [(options.host, options.port)]
        self.current = 0
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._replies = fwd.Replies()
        self.reconnect_max = options.reconnect_max
        self._chunks: dict[str, bytes] = {}  # the batch being delivered: what is not acked yet
        self.sent_chunks = self.resent_chunks = self.oversize = self.refused_handshakes = 0

    async def start(self) -> None:
        if self.options.tls and not self.options.tls_verify:
            log.warning("TLS verification is OFF for the forward receiver %s", self.options.host)

    async def close(self) -> None:
        if self._stream is not None:
            writer = self._stream[1]
            self._disconnect()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    def encode(self, event: Event) -> Encoded:
        """The packed entry, tagged; a record over the frame limit is trimmed (by `oversize`) or
        refused, so that the pipeline sets it aside instead of sending it again forever."""
        limit = self.options.max_frame_bytes - 1024
        tag = fwd.tag_for(self.options.tag, records.header(event))
        packed = fwd.entry(event.ts, self.render(event))
        if len(packed) <= limit:
            return Encoded(packed, tag)
        self.oversize += 1
        if self.options.oversize == "trim":
            for record in _trimmed(event, self.render):
                packed = fwd.entry(event.ts, record)
                if len(packed) <= limit:
                    return Encoded(packed, tag)
        size = self.options.max_frame_bytes
        raise RecordError(f"record of {len(packed)} bytes packed is over max_frame_bytes ({size})")

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        """Until the receiver acks every chunk of the batch. All go out before the first ack is
        awaited, so a batch costs one round trip however many chunks (tags) it has; a chunk sent
        again carries the same id, and an acked one is not sent again."""
        if attempt == 0:
            self._chunks = self._chunked(batch)
        else:
            self.resent_chunks += len(self._chunks)
        try:
            with mapped("forward"):
                await self._send(self._chunks)
        except (PodshipError, ValueError) as exc:
            self._disconnect()
            reason = self._failure(exc)
            self.current = (self.current + 1) % len(self.targets)  # fail over to the next receiver
            raise OutputError(reason) from None

    def _chunked(self, batch: list[Encoded]) -> dict[str, bytes]:
        """Chunk id -> frame, a chunk per tag, each under `max_frame_bytes`."""
        compress, by_tag = self.options.compress == "gzip", defaultdict(list)
        for encoded in batch:
            by_tag[encoded.group].append(encoded.data)
        chunks: dict[str, bytes] = {}
        for tag, entries in by_tag.items():
            for group in fwd.split(entries, self.options.max_frame_bytes - 1024):
                chunk_id = base64.b64encode(os.urandom(16)).decode()
                chunks[chunk_id] = fwd.packed_forward(tag, group, chunk_id, compress=compress)
        return chunks

    def _failure(self, exc: BaseException) -> str:
        """The log line's reason; a refused handshake is counted and said as such."""
        if isinstance(exc, fwd.HandshakeRefused):
            self.refused_handshakes += 1
            host, port = self.targets[self.current]
            return f"the receiver rejected the shared key or hostname ({host}:{port}: {exc})"
        return f"chunk not delivered ({_describe(exc)})"

    async def _send(self, chunks: dict[str, bytes]) -> None:
        """Send every chunk; the acked ones leave `chunks` as their acks arrive."""
        reader, writer = await self._connected()
        writer.writelines(chunks.values())
        await writer.drain()
        if self.options.require_ack:
            await asyncio.wait_for(self._acks(reader, chunks), self.options.ack_timeout)
        else:
            self.sent_chunks += len(chunks)
            chunks.clear()

    async def _acks(self, reader: asyncio.StreamReader, chunks: dict[str, bytes]) -> None:
        """Each chunk gets one reply, its ack or `{}` (not taken). All replies are awaited before a
        refusal is raised: a chunk acked after another was refused must not be sent again."""
        replies, refused = len(chunks), ""
        while replies > 0:
            for message in await self._read(reader):
                replies -= 1
                acked = fwd.ack_of(message)
                if acked is None:
                    refused = refused or str(message)[:40]
                elif chunks.pop(acked, None) is not None:
                    self.sent_chunks += 1
        if refused:
            raise Refused(f"the receiver answered {refused} instead of an ack")

    async def _read(self, reader: asyncio.StreamReader) -> list[Any]:
        data = await reader.read(65536)
        if not data:
            raise EOFError("the receiver closed the connection")
        return self._replies.feed(data)

    async def _connected(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._stream is None:
            self._stream = await asyncio.wait_for(self._open(), self.options.connect_timeout)
        return self._stream

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        host, port = self.targets[self.current]
        reader, writer = await asyncio.open_connection(host, port, ssl=self._tls())
        self._replies = fwd.Replies()
        try:
            if self.options.shared_key is not None:
                await self._handshake(reader, writer, self.options.shared_key)
        except BaseException:  # a failed or cancelled handshake must not leak the socket
            writer.close()
            raise
        return reader, writer

    async def _handshake(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, shared_key: Secret
    ) -> None:
        helo = fwd.parse_helo(await self._one(reader))
        salt, hostname = os.urandom(16).hex(), self.options.self_hostname or socket.gethostname()
        key, password = shared_key.reveal(), self.options.password
        secret = password.reveal() if password else ""
        writer.write(fwd.ping(helo, hostname, key, salt, username=self.options.username, password=secret))
        await writer.drain()
        try:
            pong = await self._one(reader)
        except (EOFError, ConnectionResetError) as exc:  # Fluent Bit closes, without a PONG, on a wrong key
            raise fwd.HandshakeRefused("closed after our PING, without a PONG") from exc
        fwd.check_pong(pong, helo, key, salt)

    async def _one(self, reader: asyncio.StreamReader) -> Any:
        while True:
            messages = await self._read(reader)
            if messages:
                return messages[0]

    def _tls(self) -> ssl.SSLContext | None:
        if not self.options.tls:
            return None
        return client_context(
            self.options.tls_ca_file,
            verify=self.options.tls_verify,
            cert_file=self.options.tls_cert_file,
            key_file=self.options.tls_key_file,
        )

    def _disconnect(self) -> None:
        if self._stream is not None:
            self._stream[1].close()
            self._stream = None


def _target(spec: str) -> tuple[str, int]:
    host, _, port = spec.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


_BULK = ("dataBase64", "textExtracted")  # what a message part holds beside its description


def _trimmed(event: Event, render: Callable[[Event], Record]) -> Iterator[Record]:
    """The record smaller and smaller: without the message parts' bodies, then without the
    original event; a syslog-index record lists what it lost in `trimmed_fields`."""
    parts = event.body.get("msgParts")
    if isinstance(parts, list) and any(isinstance(part, dict) and _BULK & part.keys() for part in parts):
        lighter = _lighter(event, [_slim_part(part) for part in parts])
        yield _listed(render(lighter), [f"{ORIGINAL_KEY}.msgParts.{name}" for name in _BULK])
    yield _listed(slim(render(event)), [ORIGINAL_KEY])


def _lighter(event: Event, parts: list[Any]) -> Event:
    """The event with slim message parts, and its syslog-index record as the rules left it."""
    body, record = dict(event.body, msgParts=parts), dict(records.view(event))
    lighter = Event(event.kind, event.event_id, event.ts, event.context, body=body)
    lighter.edited, lighter.relayed = True, event.relayed  # its text is not what it holds any more
    if records.carries_event(record, event):
        record[ORIGINAL_KEY] = body
    lighter.views = {DEFAULT: record}
    return lighter


def _slim_part(part: Any) -> Any:
    return {k: v for k, v in part.items() if k not in _BULK} if isinstance(part, dict) else part


def _listed(record: Record, trimmed: list[str]) -> Record:
    """`trimmed_fields` on a syslog-index record (other models have their own truncation mark)."""
    if "msg_class" in record:
        record.pop("truncated", None)
        record["trimmed_fields"] = trimmed
    return record


PLUGIN = Plugin("forward", "outputs", OPTIONS, lambda site, options: ForwardOutput(options), check)
