"""A Forward protocol v1 receiver on loopback, written from the spec, with faults on demand.

It accepts Message, Forward and PackedForward (bin or str entries, gzip), acks chunks, and can
withhold acks, answer `{}`, close mid-chunk, demand the secure-forward handshake, and refuse a
wrong key by closing without a PONG, as Fluent Bit does. Also: the recorded transcripts of real
peers (tests/fixtures/forward/) and a server that replays them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import itertools
import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack


def _event_time(code: int, data: bytes) -> Any:
    if code == 0:
        seconds, nanos = struct.unpack(">II", data)
        return seconds + nanos / 1e9
    return msgpack.ExtType(code, data)


def _sha512(*parts: Any) -> str:
    return hashlib.sha512(b"".join(p if isinstance(p, bytes) else str(p).encode() for p in parts)).hexdigest()


@dataclass
class ForwardPeer:
    shared_key: str | None = None
    hostname: str = "peer.example"
    withhold: int = 0  # chunks received but not acked
    refuse: int = 0  # chunks answered with {} (and not taken)
    cut: int = 0  # connections closed as soon as data arrives (mid-chunk)
    hold: int = 0  # acks held back until this many chunks wait for one (a client that sends one
    # chunk at a time and awaits its ack then waits in vain)
    ssl: Any = None
    records: list[tuple[str, float, dict[str, Any]]] = field(default_factory=list)
    chunks: Counter[str] = field(default_factory=Counter)
    connections: int = 0
    rejected_handshakes: int = 0
    most_unacked: int = 0

    async def start(self) -> ForwardPeer:
        self.server = await asyncio.start_server(
            self._serve, "127.0.0.1", getattr(self, "wanted_port", 0), ssl=self.ssl
        )
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            if self.shared_key is not None and not await self._handshake(reader, writer):
                return
            unpacker = msgpack.Unpacker(raw=False, ext_hook=_event_time, max_buffer_size=64 << 20)
            self._held: list[str] = []
            while data := await reader.read(1 << 16):
                if self.cut > 0:
                    self.cut -= 1
                    return
                unpacker.feed(data)
                for message in unpacker:
                    self._take(message, writer)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _handshake(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """As Fluent Bit's in_forward does it (fw_prot.c): nonce and salt as str of random bytes,
        every PING field a str, no PONG but a close on a wrong key."""
        nonce = os.urandom(16)
        writer.write(msgpack.packb(["HELO", {"nonce": nonce, "auth": os.urandom(16)}], use_bin_type=False))
        unpacker = msgpack.Unpacker(raw=False, unicode_errors="surrogateescape")
        while True:
            data = await reader.read(4096)
            if not data:
                return False
            unpacker.feed(data)
            for message in unpacker:
                _, hostname, salt, digest, _user, _password = message
                if not all(isinstance(part, str) for part in message) or digest != _sha512(
                    salt.encode("utf-8", "surrogateescape"), hostname, nonce, self.shared_key
                ):
                    self.rejected_handshakes += 1
                    return False  # no PONG, just a close
                proof = _sha512(salt, self.hostname, nonce, self.shared_key)
                writer.write(msgpack.packb(["PONG", True, "", self.hostname, proof]))
                return True

    def _take(self, message: list[Any], writer: asyncio.StreamWriter) -> None:
        tag, entries, options = message[0], message[1], message[2] if len(message) > 2 else {}
        if self.refuse > 0:
            self.refuse -= 1
            writer.write(msgpack.packb({}))
            return
        for time, record in self._entries(entries, options):
            self.records.append((tag, time, record))
        chunk = options.get("chunk")
        self.chunks[chunk] += 1
        if self.withhold > 0:
            self.withhold -= 1
            return
        if chunk is not None:
            self._held.append(chunk)
            self.most_unacked = max(self.most_unacked, len(self._held))
            if len(self._held) >= self.hold:
                writer.writelines(msgpack.packb({"ack": held}) for held in self._held)
                self._held = []

    @staticmethod
    def _entries(entries: Any, options: dict[str, Any]) -> list[tuple[float, dict[str, Any]]]:
        if isinstance(entries, list):  # Forward mode
            return [(time, record) for time, record in entries]
        body = entries.encode() if isinstance(entries, str) else entries
        if options.get("compressed") == "gzip":
            body = gzip.decompress(body)
        return _unpack_all(body)


def _unpack_all(body: bytes) -> list[Any]:
    unpacker = msgpack.Unpacker(raw=False, ext_hook=_event_time, max_buffer_size=64 << 20)
    unpacker.feed(body)
    return [(time, record) for time, record in unpacker]


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "forward"


def transcript(name: str) -> tuple[list[bytes], list[bytes]]:
    """The recorded client and server byte streams of tests/fixtures/forward/NAME, cut into messages."""
    return frames((FIXTURES / f"{name}.client.bin").read_bytes()), frames(
        (FIXTURES / f"{name}.server.bin").read_bytes()
    )


def frames(data: bytes) -> list[bytes]:
    """The bytes of each msgpack message in a stream, split by msgpack itself (not by podship)."""
    unpacker = msgpack.Unpacker(raw=True)
    unpacker.feed(data)
    cuts = [0]
    for _ in unpacker:
        cuts.append(unpacker.tell())
    assert cuts[-1] == len(data), "a transcript ends on a message boundary"
    return [data[start:end] for start, end in itertools.pairwise(cuts)]


class ReplayServer(ForwardPeer):
    """A loopback server that answers a client with a recorded server stream: the first message on
    connect (HELO), the rest after the client's first message, then a close, as the real peer did.
    It shares only the listener's start and stop with ForwardPeer."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.server_frames = transcript(name)[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.write(self.server_frames[0])
        with contextlib.suppress(ConnectionError):
            await reader.read(4096)
            writer.write(b"".join(self.server_frames[1:]))
            await writer.drain()
        writer.close()
