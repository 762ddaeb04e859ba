"""`proofpoint_pod` input: one PoD Log API stream, live, with gap recovery from the archive.

A thin asyncio pump around `core.coverage`: the core says whether to fetch an archive hour or to
stream live (and until when); this shell opens the WebSocket, feeds frames through the decoder,
deduplicator and normaliser into the pipeline, and reports acknowledgements back. Third-party
exceptions are mapped to ours in `open_stream` and `_pump` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import ipaddress
import logging
import random
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosedError,
    ConnectionClosedOK,
    InvalidHandshake,
    InvalidStatus,
    InvalidURI,
)

from podship.core.coverage import Archive, Coverage, Live, Timing
from podship.core.pod import (
    DEFAULT_URL,
    HOUR_MS,
    backoff,
    canonical_type,
    decode_frame,
    event_identity,
    handshake_error,
    iso_utc,
    stream_url,
)
from podship.core.records import normalise
from podship.errors import ConfigError, HandshakeError, PodshipError, StreamError
from podship.options import Option, OptionTable, Secret
from podship.source import Item
from podship.state import Store
from podship.tls import client_context

DAY = 86400.0
OPTIONS = OptionTable(
    plugin="proofpoint_pod",
    kind="input",
    summary="Reads one PoD Log API stream (one type) live, repairing gaps from the archive.",
    options=(
        Option("alias", "str", "", "Connector name: ASCII, unique; default `<tenant>-<type>`."),
        Option("tenant", "str", "", "Tenant name written to every record as `tenant_name`."),
        Option(
            "cluster_id",
            "str",
            None,
            "PoD cluster id, shown at the top of the PoD admin interface.",
            required=True,
        ),
        Option(
            "api_key", "secret", None, "PoD API key; write `${POD_API_KEY}` to take it from the environment."
        ),
        Option("api_key_file", "str", "", "A file holding the API key, instead of `api_key`."),
        Option(
            "type",
            "str",
            "message",
            "Log type; `sendmail` is an alias of maillog.",
            choices=("message", "maillog", "audit", "sendmail"),
        ),
        Option("url", "str", DEFAULT_URL, "Stream URL; `ws://` only for loopback addresses (the simulator)."),
        Option(
            "backfill",
            "duration",
            7 * DAY,
            "History fetched from the archive on the first start.",
            minimum=0,
            maximum=30 * DAY,
        ),
        Option(
            "keepalive_interval",
            "duration",
            60.0,
            "Ping interval; PoD drops connections idle for about 5 minutes.",
            minimum=0.1,
            maximum=240,
        ),
        Option(
            "max_frame_bytes",
            "size",
            16 << 20,
            "Frames larger than this are dead-lettered (PoD events can exceed 1 MiB).",
            minimum=1024,
            maximum=1 << 30,
        ),
        Option(
            "reconnect_min",
            "duration",
            2.0,
            "First reconnect delay; doubles per failure, with jitter.",
            minimum=0.01,
            maximum=600,
        ),
        Option("reconnect_max", "duration", 60.0, "Longest reconnect delay.", minimum=0.01, maximum=3600),
        Option(
            "open_timeout",
            "duration",
            10.0,
            "Time allowed for TCP, TLS and the WebSocket handshake.",
            minimum=0.1,
            maximum=300,
        ),
        Option(
            "proxy",
            "str",
            "env",
            "HTTP CONNECT proxy URL; `env` follows HTTPS_PROXY/NO_PROXY, `none` disables.",
        ),
        Option("tls_ca_file", "str", "", "CA bundle that verifies the server (default: the system store)."),
        Option("tls_verify", "bool", True, "Verify the server certificate; turning it off logs a warning."),
        Option(
            "archive_delay",
            "duration",
            3600.0,
            "How long after an hour ends the archive holds all of it.",
            minimum=0,
            maximum=6 * 3600,
        ),
        Option(
            "reorder_window",
            "duration",
            300.0,
            "How far out of order event times may arrive.",
            minimum=0,
            maximum=3600,
        ),
        Option(
            "live_resume",
            "duration",
            3000.0,
            "A live reconnect within this resumes where it dropped (PoD keeps 1h).",
            minimum=0,
            maximum=3600,
        ),
    ),
)
log = logging.getLogger("podship.input")


def check(values: dict[str, Any], path: str) -> None:
    """Checks that span options: the key source, the URL scheme, the connector name."""
    values["type"] = canonical_type(values["type"])
    values["alias"] = values["alias"] or "-".join(filter(None, (values["tenant"], values["type"])))
    if not values["alias"].isascii() or not values["alias"].isprintable() or "/" in values["alias"]:
        raise ConfigError(
            "connector name must be printable ASCII without '/' (e.g. acme-message)",
            file=path,
            plugin=OPTIONS.plugin,
            option="alias",
        )
    values["api_key"] = _api_key(values, path)
    _check_url(values["url"], path)


def _api_key(values: dict[str, Any], path: str) -> Secret:
    if values["api_key"] is not None and values["api_key_file"]:
        raise ConfigError(
            "set api_key or api_key_file, not both", file=path, plugin=OPTIONS.plugin, option="api_key_file"
        )
    if values["api_key_file"]:
        try:
            key = Path(values["api_key_file"]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the key file: {exc.strerror}",
                file=path,
                plugin=OPTIONS.plugin,
                option="api_key_file",
            ) from None
        values["api_key"] = Secret(key)
    secret = values["api_key"]
    if not isinstance(secret, Secret) or not secret.reveal():
        raise ConfigError(
            "is required (or api_key_file); use ${POD_API_KEY} to read it from the environment",
            file=path,
            plugin=OPTIONS.plugin,
            option="api_key",
        )
    return secret


def _check_url(url: str, path: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "wss" and parts.hostname:
        return
    if parts.scheme == "ws" and parts.hostname and _loopback(parts.hostname):
        return
    raise ConfigError(
        "must be wss://HOST/v1/stream (ws:// only for loopback addresses)",
        file=path,
        plugin=OPTIONS.plugin,
        option="url",
    )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class Stats:
    events: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    empty_frames: int = 0
    reconnects: int = 0
    archive_windows: int = 0
    refusals: int = 0
    delivered: int = 0
    newest_event_ms: int = 0
    last_activity: float = 0.0  # wall-clock time of the last frame received
    mode: str = "idle"
    last_error: str = ""


class ProofpointInput:
    """One connector: a (token, type) stream of one PoD cluster."""

    def __init__(
        self,
        values: dict[str, Any],
        state_dir: Path,
        emit: Callable[[Item], Awaitable[None]],
        dead_letter_max_bytes: int = 64 << 20,
        *,
        check_state: bool = True,
    ) -> None:
        self.values, self.emit = values, emit
        self.name: str = values["alias"]
        self.kind: str = values["type"]
        self.context = {"tenant_name": values["tenant"], "connector": self.name}
        self.timing = Timing(
            int(values["reorder_window"] * 1000),
            int(values["archive_delay"] * 1000),
            int(values["live_resume"] * 1000),
        )
        self.store = Store(state_dir, self.name, dead_letter_max_bytes, create=check_state)
        self.coverage: Coverage | None = None
        self.stats = Stats()
        self.failure: PodshipError | None = None
        self.clock_offset_ms = 0
        self.stopping = asyncio.Event()
        self._started = time.monotonic()
        self.log = logging.LoggerAdapter(log, {"connector": self.name})

    # --- clock and state --------------------------------------------------------------------

    def server_now(self) -> int:
        """The server's clock as learned from the last handshake's Date header."""
        return int(time.time() * 1000) + self.clock_offset_ms

    def _learn_clock(self, connection: ClientConnection) -> None:
        dates = connection.response.headers.get_all("Date") if connection.response else []
        with contextlib.suppress(TypeError, ValueError, IndexError):
            date = dates[-1]
            self.clock_offset_ms = int(
                email.utils.parsedate_to_datetime(date).timestamp() * 1000 - time.time() * 1000
            )

    def load(self, now: int) -> Coverage:
        """The coverage, loaded once the server's clock is known (a first start backfills from it)."""
        if self.coverage is None:
            self.coverage = self.store.load(self.timing, now, int(self.values["backfill"] * 1000))
        return self.coverage

    def acked(self, pairs: list[tuple[str, int]]) -> None:
        """Every output has these events."""
        assert self.coverage is not None, "events are acknowledged only after they were admitted"
        self.coverage.acknowledge(pairs)
        self.store.journal(pairs)
        self.stats.delivered += len(pairs)

    def commit(self, *, final: bool = False) -> None:
        """Persist progress; a final commit after a clean close lets the next start resume live."""
        if self.coverage is not None:
            self.store.commit(self.coverage, clean=final)

    # --- the connector loop ------------------------------------------------------------------

    async def run(self) -> None:
        """Until stopped, or until the server refuses us for a reason no retry can fix."""
        attempt = 0
        if not self.values["tls_verify"]:
            self.log.warning(
                "TLS verification is OFF for %s: anyone on the path can read this mail log",
                self.values["url"],
            )
        while not self.stopping.is_set():
            try:
                await self._session(self._plan())
                attempt = 0
            except PodshipError as exc:
                if not exc.retryable:
                    self._fail(exc)
                    return
                attempt = await self._retry(exc, attempt)
        self.stats.mode = "stopped"

    def _fail(self, exc: PodshipError) -> None:
        self.failure, self.stats.mode, self.stats.last_error = exc, "failed", str(exc)
        self.log.error("connector stopped: %s", exc)

    async def _retry(self, exc: PodshipError, attempt: int) -> int:
        delay = backoff(attempt, self.values["reconnect_min"], self.values["reconnect_max"], random.random())
        self.stats.reconnects += 1
        self.stats.last_error = str(exc)
        if isinstance(exc, HandshakeError):
            self.stats.refusals += 1
        self.log.info("%s; reconnecting in %.1fs", exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), delay)
        return attempt + 1

    def _plan(self) -> Archive | Live:
        # Until a handshake has told us the server's clock, nothing can be planned: start live.
        if self.coverage is None:
            return Live(None)
        return self.coverage.next_action(self.server_now())

    async def _session(self, action: Archive | Live) -> None:
        if isinstance(action, Archive):
            await self._archive(action.hour)
        else:
            await self._live()

    async def _archive(self, hour: int) -> None:
        url = stream_url(self.values["url"], self.values["cluster_id"], self.kind, hour, hour + HOUR_MS)
        async with self.open_stream(url) as connection:
            self.stats.mode = "backfill"
            self.log.info("fetching the archive hour from %s", iso_utc(hour))
            complete = await self._drain(connection, None)
        if complete and not self.stopping.is_set() and self.coverage is not None:
            self.coverage.archive_done(hour)
            self.stats.archive_windows += 1
            self._progress()

    def _progress(self) -> None:
        """A backfill progress line: hours done and to go, rate, and the time left at that rate."""
        assert self.coverage is not None
        done, left = self.stats.archive_windows, self.coverage.hours_to_repair(self.server_now())
        elapsed = max(time.monotonic() - self._started, 1e-3)
        rate, per_hour = self.stats.events / elapsed, elapsed / done
        bar = _bar(done, done + left) if sys.stderr.isatty() else ""
        self.log.info(
            "backfill: %s%d archive hours done, %d to go, %.0f events/s, about %s left",
            bar,
            done,
            left,
            rate,
            _duration(left * per_hour),
        )

    async def _live(self) -> None:
        async with self.open_stream(
            stream_url(self.values["url"], self.values["cluster_id"], self.kind)
        ) as connection:
            self.stats.mode, clean, now = "live", False, self.server_now()
            coverage = self.load(now)
            coverage.live_opened(now)
            action = coverage.next_action(now)
            until = now if isinstance(action, Archive) else action.until
            try:
                clean = await self._drain(connection, until)
            finally:
                coverage.live_closed(self.server_now(), clean=clean)

    async def _drain(self, connection: ClientConnection, until: int | None) -> bool:
        """Pump until the server ends the stream, or until we close it at `until` or on stop."""
        closer = asyncio.create_task(self._close_at(connection, until))
        try:
            return await self._pump(connection)
        finally:
            closer.cancel()

    async def _close_at(self, connection: ClientConnection, until: int | None) -> None:
        """Close cleanly at `until` (to repair a hole) or when stopped; the pump drains the rest."""
        delay = None if until is None else max(0.0, (until - self.server_now()) / 1000)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stopping.wait(), delay)
        await connection.close()

    @contextlib.asynccontextmanager
    async def open_stream(self, url: str) -> AsyncIterator[ClientConnection]:
        """A WebSocket to `url` with this connector's key, proxy and TLS; errors mapped to ours."""
        try:
            connection = await connect(url, **self._connect_options())
        except InvalidStatus as exc:
            raise handshake_error(exc.response.status_code) from None
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise StreamError(f"cannot connect to {urlsplit(url).netloc}: {exc}") from None
        self._learn_clock(connection)
        try:
            yield connection
        finally:
            await connection.close()

    def _connect_options(self) -> dict[str, Any]:
        proxy = self.values["proxy"]
        return {
            "additional_headers": {"Authorization": f"Bearer {self.values['api_key'].reveal()}"},
            "open_timeout": self.values["open_timeout"],
            "ping_interval": self.values["keepalive_interval"],
            "ping_timeout": self.values["keepalive_interval"],
            # Frames above our cap are still received (then dead-lettered) unless they are huge:
            # a frame the library refuses is re-sent by the server forever.
            "max_size": (None, max(16 * self.values["max_frame_bytes"], 256 << 20)),
            "proxy": {"env": True, "none": None}.get(proxy, proxy),
            "ssl": self._tls() if self.values["url"].startswith("wss:") else None,
            "logger": logging.getLogger("podship.websockets"),
        }

    def _tls(self) -> ssl.SSLContext:
        return client_context(self.values["tls_ca_file"], verify=self.values["tls_verify"])

    async def _pump(self, connection: ClientConnection) -> bool:
        """Frames into the pipeline until the connection ends; True when it ended normally."""
        try:
            while True:
                await self._accept(await connection.recv(decode=False))
        except ConnectionClosedOK:
            return True
        except ConnectionClosedError as exc:
            raise StreamError(f"connection lost ({exc.rcvd.code if exc.rcvd else 1006})") from None

    # --- one frame ---------------------------------------------------------------------------

    async def _accept(self, data: bytes) -> None:
        self.stats.last_activity = time.time()
        frame = decode_frame(data, self.values["max_frame_bytes"])
        if frame.event is None:
            if frame.reason:
                self._reject(frame.reason, data)
            else:
                self.stats.empty_frames += 1
            return
        try:
            event_id, ts = event_identity(frame.event, self.kind)
        except ValueError as exc:
            self._reject(str(exc), data)
            return
        record = self._record(frame.event, event_id, ts, data)
        if record is not None:
            self.stats.events += 1
            self.stats.newest_event_ms = max(self.stats.newest_event_ms, ts)
            await self.emit(Item(record, self, event_id, ts))

    def _record(self, event: dict[str, Any], event_id: str, ts: int, data: bytes) -> dict[str, Any] | None:
        coverage = self.coverage
        assert coverage is not None, "frames arrive only after a handshake, which loads the coverage"
        if not coverage.admit(event_id, ts):
            self.stats.duplicates += 1
            return None
        try:
            return normalise(event, self.kind, event_id, ts, self.context)
        except Exception as exc:  # data must never stop the stream: set the event aside instead
            coverage.pending.pop(event_id, None)
            self._reject(f"cannot normalise: {type(exc).__name__}: {exc}", data)
            return None

    def _reject(self, reason: str, data: bytes) -> None:
        self.stats.dead_letters += 1
        self.log.warning("dead-lettered a frame: %s", reason)
        self.store.dead_letter(reason, data)


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m{int(seconds % 60):02d}s"


def _bar(done: int, total: int, width: int = 24) -> str:
    """`[#########...............] ` for people watching a terminal; logs off a terminal get none."""
    filled = width * done // max(total, 1)
    return f"[{'#' * filled}{'.' * (width - filled)}] "
