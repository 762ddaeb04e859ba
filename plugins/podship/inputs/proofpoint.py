"""`proofpoint_pod` input: one PoD Log API stream, live, with gap recovery from the archive.

A thin asyncio pump around `core.connector`: the core says what to open next (live, an archive
window, or a wait) and turns frames into records; this shell connects, pumps frames, closes a
session when the core says, sleeps, and keeps the files. Library exceptions become ours in
`podship.netio` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import socket
import ssl
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosedOK

from podship.core.connector import Connector, Ended, Stats, Wait
from podship.core.connector_notes import Note
from podship.core.coverage import Archive, Coverage
from podship.core.pod import HOUR_MS, iso_utc, stream_url
from podship.errors import ConfigError, PodshipError, StreamError
from podship.inputs.progress import Progress, bar
from podship.inputs.proofpoint_options import OPTIONS, ProofpointOptions, check
from podship.inputs.proofpoint_words import started, why, words
from podship.runtime.netio import mapped
from podship.runtime.options import Secret
from podship.runtime.plugin import InputStatus, Item, Plugin, Site
from podship.runtime.state import DEAD_LETTER_MAX_BYTES, Store
from podship.runtime.storage import StorageWatch, attempt, until_written
from podship.runtime.tls import client_context

__all__ = ["OPTIONS", "ProofpointInput", "ProofpointOptions", "Stats", "check"]
ARCHIVE_QUIET_SECS = 30.0  # an early archive window silent this long has sent what the archive holds
log = logging.getLogger("podship.input")


class ProofpointInput:
    """One connector: a (token, type) stream of one PoD cluster."""

    def __init__(
        self,
        options: ProofpointOptions,
        state_dir: Path,
        emit: Callable[[Item], Awaitable[None]],
        dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES,
        *,
        check_state: bool = True,
        storage: StorageWatch | None = None,
    ) -> None:
        self.options, self.emit = options, emit
        self.api_key = _key(options)
        self.storage = storage if storage is not None else StorageWatch()
        self.name, self.kind = options.alias, options.type
        self.timing = options.timing()
        self.store = Store(state_dir, self.name, dead_letter_max_bytes, create=check_state)
        settings, context = options.settings(), options.context(socket.gethostname())
        self.core = Connector(self.kind, context, settings, random.random, time.monotonic())
        self.failure: PodshipError | None = None
        self.clock_offset_ms = 0
        self.once = False  # `run --once`: stop once caught up with the present
        self.stopping = asyncio.Event()
        self._started = self._last_frame = time.monotonic()
        self._closed_by_us: Ended | None = None
        self.progress, self._backfill_to = Progress(), 0  # until then, archive windows are repairs
        self.log = logging.LoggerAdapter(log, {"connector": self.name})

    @property
    def stats(self) -> Stats:
        return self.core.stats

    @property
    def coverage(self) -> Coverage | None:
        return self.core.coverage

    # --- clock and state --------------------------------------------------------------------

    def status(self) -> InputStatus:
        return InputStatus(self.stats.mode, self.stats, self.server_now(), self.core.coverage)

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
        if self.core.coverage is None:
            first = not self.store.has_checkpoint()
            coverage = self.store.load(self.timing, now, int(self.options.backfill * 1000))
            self._backfill_to = now + self.timing.reorder_ms if first else 0
            self.log.info("%s", started(coverage, first, self.options.backfill))
            if first:  # saved at once: a start that dies before its first batch must not move the
                # backfill's start to its successor's clock (the next batch retries a failed write)
                attempt(lambda: self.store.commit(coverage), self.storage, self.name)
            return coverage
        return self.core.coverage

    def acked(self, pairs: list[tuple[str, int]]) -> None:
        """Every output has these events; a StorageError means their ids wait to be journaled."""
        self.core.acknowledged(pairs)
        self.store.journal(pairs)

    async def set_aside(self, reason: str, record: dict[str, Any]) -> None:
        await until_written(lambda: self.store.dead_letter(reason, record), self.storage, self.name)
        self.stats.dead_letters += 1

    def pending(self) -> int:
        """Events received and not yet delivered: the next start fetches them again."""
        return len(self.core.coverage.pending) if self.core.coverage is not None else 0

    def commit(self, *, final: bool = False) -> None:
        """Persist progress; a final commit after a clean close lets the next start resume live."""
        if self.core.coverage is not None:
            problems = self.core.coverage.problems()
            if problems:  # never persist a broken plan: the last good checkpoint stays
                self.log.error("checkpoint not written: %s", "; ".join(problems))
                return
            self.store.commit(self.core.coverage, clean=final)  # StorageError: the pipeline retries

    # --- the connector loop ------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to open before the run: a session opens when the core plans one."""

    async def run(self) -> None:
        """Until stopped, or until the server refuses us for a reason no retry can fix."""
        if not self.options.tls_verify:
            self.log.warning(
                "TLS verification is OFF for %s: anyone on the path can read this mail log",
                self.options.url,
            )
        while not self.stopping.is_set():
            action = self.core.plan(self.server_now(), time.monotonic())
            if self.once and self.core.done_once(action):
                self.log.info(
                    "caught up with the present (--once): %s",
                    self.core.awaiting(self.server_now()) or "no archive hour awaited",
                )
                break
            try:
                await self._act(action)
            except PodshipError as exc:
                if not exc.retryable:
                    self._fail(exc)
                    return
                self._say(self.core.refused(exc, time.monotonic()))
        self.core.close()
        self.stats.mode = "stopped"

    async def _act(self, action: Archive | Wait | Any) -> None:
        if isinstance(action, Wait):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), action.seconds)
        elif isinstance(action, Archive):
            await self._archive(action)
        else:
            await self._live()

    def _fail(self, exc: PodshipError) -> None:
        self.core.close()
        self.failure, self.stats.mode, self.stats.last_error = exc, "failed", str(exc)
        self.log.error("connector stopped: %s", exc)

    def _say(self, note: Note) -> None:
        self.log.log(note.level, "%s", words(note))

    async def _live(self) -> None:
        async with self.open_stream(stream_url(self.options.url, self.options.cluster_id, self.kind)) as ws:
            now = self.server_now()
            until = self.core.opened_live(self.load(now), now)
            due = "" if until is None else f", until {iso_utc(until)} when an archive repair is due"
            self._note("live session open%s", due if until != now else ", closing it for a repair")
            how = await self._session(ws, until, quiet=False)
        self._note("live session closed: %s", why(how, self.stopping.is_set()))

    def _note(self, line: str, *args: object) -> None:
        """A line per session, at debug while sessions go on bringing nothing new (the core has
        said so once, and summarises): the log stays readable against a server that cuts them."""
        self.log.log(logging.DEBUG if self.core.quiet else logging.INFO, line, *args)

    async def _archive(self, window: Archive) -> None:
        url = stream_url(self.options.url, self.options.cluster_id, self.kind, window.since, window.to)
        holes = len(self.coverage.holes) if self.coverage else 0
        started, events = time.monotonic(), self.stats.events
        async with self.open_stream(url) as ws:
            self.core.opened_archive(window, self.server_now())
            early = self.core.early(window)
            self._note(
                "fetching the archive from %s to %s%s",
                iso_utc(window.since),
                iso_utc(window.to),
                " (early: the archive may not hold all of it yet)" if early else "",
            )
            how = await self._session(ws, None, quiet=early)
        if how is Ended.COMPLETE:
            hours = (window.to - window.since) // HOUR_MS
            self.progress.measured(hours, time.monotonic() - started, self.stats.events - events)
        self._progress(window)
        if holes and self.coverage is not None and not self.coverage.holes:
            self.log.info("repairs done: every hole is filled from the archive")

    async def _session(self, connection: ClientConnection, until: int | None, *, quiet: bool) -> Ended:
        """Pump until the server ends the stream, or until we close it at `until`, when quiet, or
        on stop; then tell the core how it ended."""
        self._last_frame, self._closed_by_us = time.monotonic(), None
        closer = asyncio.create_task(self._close_at(connection, until, quiet=quiet))
        how, problem = Ended.COMPLETE, ""
        try:
            await self._pump(connection)
        except StreamError as exc:
            how, problem = Ended.DROPPED, str(exc)
        except Exception as exc:  # the task restarts; the session ends here as a drop: a hole covers it
            self.core.ended(Ended.DROPPED, self.server_now(), time.monotonic(), type(exc).__name__)
            raise
        finally:
            closer.cancel()
        if how is Ended.COMPLETE and self._closed_by_us is not None:
            how = self._closed_by_us  # set before our close frame went out: the window is not whole
        for note in self.core.ended(how, self.server_now(), time.monotonic(), problem):
            self._say(note)
        return how

    async def _close_at(self, connection: ClientConnection, until: int | None, *, quiet: bool) -> None:
        """Close cleanly at `until` (a repair is due), after `ARCHIVE_QUIET_SECS` without a frame
        when `quiet`, or when stopped; the pump drains what arrives before the server's close."""
        how = Ended.CLOSED
        while not self.stopping.is_set():
            left = float("inf") if until is None else (until - self.server_now()) / 1000
            silent = time.monotonic() - self._last_frame
            if left <= 0:
                break
            if (quiet and silent >= ARCHIVE_QUIET_SECS) or (self.once and self.core.live_caught_up(silent)):
                how = Ended.IDLE
                break
            step = min(left, ARCHIVE_QUIET_SECS - silent if quiet else left, 0.25 if self.once else 60.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), step)
        self._closed_by_us = how
        await connection.close()

    def _progress(self, window: Archive) -> None:
        """A progress line: hours done and to go, rate and time left, or what is awaited. A window
        of the first start's span is the backfill; any other is a repair (a drop, an outage)."""
        assert self.coverage is not None
        if self.core.quiet:  # windows cut again and again: the core summarises them
            return
        now = self.server_now()
        word = "backfill" if window.since < self._backfill_to else "repair"
        done, left = self.stats.archive_hours, self.coverage.hours_to_repair(now)
        due = self.coverage.next_due(now)
        if due is not None and due > now:
            self.log.info("%s", self.progress.awaiting(word, done, self.core.awaiting(now)))
            return
        shown = bar(done, done + left) if sys.stderr.isatty() else ""
        ready = self.coverage.hours_ready(now)
        self.log.info("%s", self.progress.line(word, done, left, ready, shown))

    @contextlib.asynccontextmanager
    async def open_stream(self, url: str) -> AsyncIterator[ClientConnection]:
        """A WebSocket to `url` with this connector's key, proxy and TLS; errors mapped to ours."""
        with mapped(f"cannot connect to {urlsplit(url).netloc}"):
            connection = await connect(url, **self._connect_options())
        self._learn_clock(connection)
        try:
            yield connection
        except asyncio.CancelledError:
            # Cancelled: no drain is wanted (grace over, stdout closed). A close handshake would
            # wait `close_timeout` (10 s) behind the frames a full queue no longer reads.
            connection.transport.abort()
            raise
        finally:
            await connection.close()

    def _connect_options(self) -> dict[str, Any]:
        proxy = self.options.proxy
        return {
            "additional_headers": {"Authorization": f"Bearer {self.api_key.reveal()}"},
            "open_timeout": self.options.open_timeout,
            "ping_interval": self.options.keepalive_interval,
            "ping_timeout": self.options.keepalive_interval,
            # Frames above our cap are still received (then dead-lettered) unless they are huge:
            # a frame the library refuses is re-sent by the server forever.
            "max_size": (None, max(16 * self.options.max_frame_bytes, 256 << 20)),
            "proxy": {"env": True, "none": None}.get(proxy, proxy),
            "ssl": self._tls() if self.options.url.startswith("wss:") else None,
            "logger": logging.getLogger("podship.websockets"),
        }

    def _tls(self) -> ssl.SSLContext:
        return client_context(self.options.tls_ca_file, verify=self.options.tls_verify)

    async def _pump(self, connection: ClientConnection) -> None:
        """Frames into the pipeline until the connection ends normally (a drop raises StreamError)."""
        with contextlib.suppress(ConnectionClosedOK), mapped("stream"):
            while True:
                data = await connection.recv(decode=False)
                self._last_frame = time.monotonic()
                await self._accept(data)

    async def _accept(self, data: bytes) -> None:
        self.stats.last_activity = time.time()
        received = self.core.receive(data)
        if received.reason:
            self.log.warning("dead-lettered a frame: %s", received.reason)
            reason = received.reason
            await until_written(lambda: self.store.dead_letter(reason, data), self.storage, self.name)
        elif received.event is not None:
            await self.emit(Item(received.event, self, received.event_id, received.ts))


def _key(options: ProofpointOptions) -> Secret:
    """The API key, which `check` made sure of (from the environment or the key file)."""
    if options.api_key is None:
        raise ConfigError("is required (or api_key_file)", plugin=OPTIONS.plugin, option="api_key")
    return options.api_key


def _build(site: Site, options: ProofpointOptions) -> ProofpointInput:
    source = ProofpointInput(
        options, site.state_dir, site.emit, site.dead_letter_max_bytes, storage=site.storage
    )
    source.once = site.once
    return source


PLUGIN = Plugin("proofpoint_pod", "inputs", OPTIONS, _build, check)
