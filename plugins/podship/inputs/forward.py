"""`forward` input: a Fluent Forward receiver, so that Fluent Bit's or Fluentd's `out_forward` (or
another podship) can hand records to podship's filters and outputs (`podship relay`).

It accepts every entry form senders use: Message, Forward, PackedForward (str or bin) and gzip
CompressedPackedForward; times as int, float, EventTime, or Fluent Bit's `[EventTime, metadata]`
pair; chunk ids with any bytes, echoed in the ack exactly (same bytes, same msgpack type). With
`shared_key` it runs the secure-forward handshake as a server (HELO, PING, PONG), optionally with a
user, and with `tls_cert_file` it serves TLS. A chunk is acked only when podship's own outputs have
taken every record of it, so the sender re-sends whatever podship could not deliver. The decoding
is in core/encode_forward.py; this is the pump.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import itertools
import logging
import os
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import msgpack

from podship.core import encode_forward as fwd
from podship.core.connector import Stats
from podship.core.connector_state import State
from podship.core.event.envelope import Event
from podship.errors import ConfigError, PodshipError
from podship.runtime.options import Option, OptionTable, Secret
from podship.runtime.plugin import InputStatus, Item, Plugin
from podship.runtime.state import DEAD_LETTER_MAX_BYTES, Store
from podship.runtime.storage import StorageWatch, until_written


@dataclass(frozen=True, slots=True)
class ForwardInputOptions:
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    alias: str
    listen: str
    port: int
    max_frame_bytes: int
    shared_key: Secret | None
    self_hostname: str
    username: str
    password: Secret | None
    tls_cert_file: str
    tls_key_file: str


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
        Option(
            "shared_key", "secret", None, "Require the secure-forward handshake with this key (`${VAR}`)."
        ),
        Option("self_hostname", "str", "", "Our hostname in the PONG (default: this host's name)."),
        Option("username", "str", "", "Also require this user in the handshake (with `password`)."),
        Option("password", "secret", None, "Password of `username`."),
        Option("tls_cert_file", "str", "", "Serve TLS with this certificate (PEM; may hold the key)."),
        Option("tls_key_file", "str", "", "Key of `tls_cert_file`, when it is a separate file."),
    ),
    shape=ForwardInputOptions,
)
log = logging.getLogger("podship.relay")


def check(options: ForwardInputOptions, path: str) -> ForwardInputOptions:
    """A user needs a password and the handshake; the TLS files must load. Returns the options
    with their alias."""
    user, password = bool(options.username), options.password is not None
    mistakes = [
        ("username", user != password, "and password go together"),
        ("username", user and options.shared_key is None, "needs shared_key"),
        ("tls_key_file", bool(options.tls_key_file) and not options.tls_cert_file, "needs tls_cert_file"),
    ]
    for option, wrong, problem in mistakes:
        if wrong:
            raise ConfigError(f"{option} {problem}", file=path, plugin="forward", option=option)
    try:
        server_context(options)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc}", file=path, plugin="forward") from None
    return replace(options, alias=_alias(options))


def _alias(options: ForwardInputOptions) -> str:
    return options.alias or f"forward-{options.port}"


def server_context(options: ForwardInputOptions) -> ssl.SSLContext | None:
    if not options.tls_cert_file:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(options.tls_cert_file, options.tls_key_file or None)
    return context


@dataclass
class _Chunk:
    writer: asyncio.StreamWriter
    chunk_id: Any  # str (surrogateescape) or bytes, echoed as it came
    waiting: int


class ForwardInput:
    """A Forward receiver feeding the pipeline."""

    kind = "forward"

    def __init__(
        self,
        options: ForwardInputOptions,
        emit: Callable[[Item], Awaitable[None]],
        state_dir: Path,
        dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES,
        storage: StorageWatch | None = None,
    ) -> None:
        self.options, self.emit = options, emit
        self.name = _alias(options)
        self.store = Store(state_dir, self.name, dead_letter_max_bytes)
        self.storage = storage if storage is not None else StorageWatch()
        self.stopping = asyncio.Event()
        self.listening = asyncio.Event()
        self.failure: PodshipError | None = None
        self.stats = Stats()
        self.port = 0
        self._server: asyncio.Server | None = None
        self._owners: dict[str, _Chunk] = {}
        self._writers: set[asyncio.StreamWriter] = set()
        self._serial = itertools.count()

    async def start(self) -> None:
        """Listen; called before anything runs, so an address in use is a start-up failure."""
        try:
            self._server = await asyncio.start_server(
                self._serve, self.options.listen, self.options.port, ssl=server_context(self.options)
            )
        except OSError as exc:
            where = f"{self.options.listen}:{self.options.port}"
            raise ConfigError(
                f"cannot listen on {where}: {exc.strerror or exc}", plugin="forward", option="port"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def run(self) -> None:
        if self._server is None:
            await self.start()
        server = self._server
        assert server is not None
        self.stats.mode, self.stats.state = "live", State.LIVE
        self.listening.set()
        log.info("relay listening on %s:%d", self.options.listen, self.port)
        async with server:
            await self.stopping.wait()
        for writer in self._writers:  # the senders see the close and send again what is not acked
            writer.close()
        self.stats.mode, self.stats.state = "stopped", State.CLOSED

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        messages = _messages(reader, fwd.Replies(self.options.max_frame_bytes))
        self._writers.add(writer)
        try:
            key = self.options.shared_key
            if key is None or await self._handshake(messages, writer, key):
                async for message in messages:
                    await self._take(message, writer)
        except (ValueError, msgpack.UnpackException) as exc:  # OverLimit, BufferFull: a size too large
            await self._refuse(_peer(writer), exc)
        except (ConnectionError, ssl.SSLError) as exc:
            log.warning("relay: lost a connection from %s: %s", _peer(writer), exc)
        except Exception as exc:  # nothing a peer sends may end the relay: refused like the rest
            await self._refuse(_peer(writer), exc)
        except asyncio.CancelledError:  # the process is ending; Python 3.11's streams would log a
            pass  # cancelled connection handler as an error, with a traceback
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _refuse(self, peer: str, exc: Exception) -> None:
        """A message we will not take (over a size limit, or not Forward): counted, set aside with
        its reason, said once, and its connection closed, so the sender sends it again elsewhere or
        later; the other connections go on."""
        if isinstance(exc, msgpack.BufferFull):
            reason = f"a message over max_frame_bytes ({self.options.max_frame_bytes} bytes)"
        else:
            reason = str(exc) or type(exc).__name__
        self.stats.dead_letters += 1
        self.stats.last_error = f"refused a message from {peer}: {reason}"
        log.warning("relay: %s; connection closed", self.stats.last_error)
        line = self.stats.last_error
        await until_written(lambda: self.store.dead_letter(line, b""), self.storage, self.name)

    async def _handshake(
        self, messages: AsyncIterator[Any], writer: asyncio.StreamWriter, shared_key: Secret
    ) -> bool:
        """HELO, then the client's PING, answered by a PONG; False (after the PONG) on a refusal."""
        nonce, salt = os.urandom(16), os.urandom(16) if self.options.username else b""
        writer.write(fwd.helo(nonce, salt))
        message = await anext(messages, None)
        if message is None:
            return False
        key, users = shared_key.reveal(), self._users()
        ping = fwd.check_ping(message, nonce, key, users, salt)
        hostname = self.options.self_hostname or socket.gethostname()
        writer.write(fwd.pong(ping, nonce, key, hostname))
        await writer.drain()
        if ping.refusal:
            self.stats.refusals += 1
            self.stats.last_error = f"handshake refused for {ping.hostname!r}: {ping.refusal}"
            log.warning("relay: %s", self.stats.last_error)
        return not ping.refusal

    def _users(self) -> dict[str, str]:
        password = self.options.password
        return {self.options.username: password.reveal()} if password is not None else {}

    async def _take(self, message: Any, writer: asyncio.StreamWriter) -> None:
        decoded = fwd.events_of(message, self.options.max_frame_bytes)
        await self._set_aside_entries(decoded.bad, _peer(writer))
        chunk = _Chunk(writer, decoded.chunk, len(decoded.events))
        if not decoded.events:
            self._ack(chunk)
        for time_ms, record in decoded.events:
            key = str(next(self._serial))
            self._owners[key] = chunk
            self.stats.events += 1
            await self.emit(Item(Event.relay(record, time_ms), self, key, time_ms))

    async def _set_aside_entries(self, bad: list[tuple[str, Any]], peer: str) -> None:
        """Entries that are no record (a time that is none, a record that is no map): each set
        aside alone, so that the chunk's other records get through and the chunk is acked."""
        for reason, entry in bad:
            line = f"refused an entry from {peer}: {reason}"
            write = functools.partial(self.store.dead_letter, line, {"entry": entry})
            await until_written(write, self.storage, self.name)
            self.stats.dead_letters += 1
        if bad:
            log.warning("relay: set aside %d entries from %s: %s", len(bad), peer, bad[0][0])

    def acked(self, pairs: list[tuple[str, int]]) -> None:
        """The outputs have these records; a chunk whose records all arrived is acked to its sender."""
        self.stats.delivered += len(pairs)
        for key, _ in pairs:
            chunk = self._owners.pop(key)
            chunk.waiting -= 1
            if chunk.waiting == 0:
                self._ack(chunk)

    @staticmethod
    def _ack(chunk: _Chunk) -> None:
        if chunk.chunk_id is not None and not chunk.writer.is_closing():
            with contextlib.suppress(ConnectionError):
                chunk.writer.write(fwd.ack(chunk.chunk_id))

    async def set_aside(self, reason: str, record: dict[str, Any]) -> None:
        await until_written(lambda: self.store.dead_letter(reason, record), self.storage, self.name)
        self.stats.dead_letters += 1

    def pending(self) -> int:
        """Records received and not yet delivered: their chunks are not acked, so senders resend them."""
        return len(self._owners)

    def commit(self, *, final: bool = False) -> None:
        return None

    def status(self) -> InputStatus:
        """Its lag on this host's clock: a relay has no server to learn another clock from."""
        return InputStatus(self.stats.mode, self.stats, int(time.time() * 1000))


def _peer(writer: asyncio.StreamWriter) -> str:
    address = writer.get_extra_info("peername")
    return f"{address[0]}:{address[1]}" if isinstance(address, tuple) else "a peer"


async def _messages(reader: asyncio.StreamReader, replies: fwd.Replies) -> AsyncIterator[Any]:
    while data := await reader.read(1 << 16):
        for message in replies.feed(data):
            yield message


PLUGIN = Plugin(
    "forward",
    "inputs",
    OPTIONS,
    lambda site, options: ForwardInput(
        options, site.emit, site.state_dir, site.dead_letter_max_bytes, storage=site.storage
    ),
    check,
    lambda options: (options.listen, options.port, "listen"),
)
