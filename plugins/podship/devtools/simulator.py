"""A local PoD Log API server, faithful to shared/pod-log-api.md, for demos and tests.

`/v1/stream` with `cid`, `type`, `sinceTime`, `toTime`; Bearer tokens bound to a cluster id; one
session per (token, type); a live resume point kept for an hour after a drop; hour-granular archive
windows that lag the present; idle connections dropped. Faults on demand: TCP drops without a close
frame (losing the frames in flight, as a reset does), refused handshakes, empty, binary and malformed
frames. Its clock can be moved forward. Control endpoints under `/_sim/` serve tests only.
"""

from __future__ import annotations

import asyncio
import email.utils
import http
import json
import logging
import math
import ssl
import time
from dataclasses import dataclass, field, fields
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame as WsFrame
from websockets.http11 import Request, Response
from websockets.protocol import State

from podship.core.pod import HOUR_MS, TYPES, canonical_type, ceil_hour, floor_hour, parse_ts
from podship.devtools.simgen import Timeline

log = logging.getLogger("podship.simulator")
YIELD_EVERY = 64  # frames a session sends before it lets the other sessions run (as a server would)
_BAD_FRAMES: tuple[str | bytes, ...] = ("", '{"guid": "broken', "[1, 2, 3]", b"\xff\xfe not utf-8", "\n")


@dataclass
class Faults:
    """Faults injected on demand; counters run over the simulator's whole life."""

    drop_every: int = 0  # abort the TCP connection of the live session sending every Nth event frame
    cut_archive: bool = False  # ... and archive sessions too (hour-granular: an hour needs fewer events)
    drop_lose: int = 3  # frames the server counts as sent but the client never gets, per drop
    refuse_count: int = 0  # refuse this many handshakes ...
    refuse_status: int = 409  # ... with this status
    storm_every: int = 0  # after every Nth session accepted, refuse the next `storm_size` handshakes
    storm_size: int = 0
    bad_every: int = 0  # after every N event frames, send an empty, malformed or binary junk frame
    binary_every: int = 7  # send every Nth event as a binary frame (clients must accept both)
    # Every session sends its first N events, then closes TCP without a close frame; the live resume
    # point stays put, so the next session sends the same events again (Elastic's PoD mock, N=1).
    cut_after: int = 0


def real_world_faults() -> Faults:
    """The fault profile of the catch-up tests and benchmark: what the real API does to clients.
    Pair it with `release_secs=3.0` (409 for 3 s after every session ends)."""
    return Faults(
        drop_every=250, drop_lose=3, cut_archive=True, storm_every=25, storm_size=3, refuse_status=503
    )


@dataclass
class SimOptions:
    host: str = "127.0.0.1"
    port: int = 0
    tokens: dict[str, str] = field(default_factory=lambda: {"sim-token": "acme_hosted"})
    timeline: Timeline = field(default_factory=Timeline)
    start_ms: int | None = None  # simulator time at start; default: epoch + 2 hours
    speed: float = 1.0
    archive_staleness_ms: int = 30 * 60_000
    resume_ms: int = HOUR_MS
    idle_timeout_secs: float = 300.0
    release_secs: float = 0.2  # 409 for this long after a session ends
    faults: Faults = field(default_factory=Faults)
    frame_cache: int = 0  # keep up to this many encoded frames, so that benchmarks measure the client
    ssl_context: ssl.SSLContext | None = None


class SimClock:
    """Simulator time: starts at `start_ms`, runs at `speed`, and can jump forward."""

    def __init__(self, start_ms: int, speed: float) -> None:
        self.start_ms, self.speed, self.offset_ms = start_ms, speed, 0
        self._origin = time.monotonic()

    def now(self) -> int:
        return self.start_ms + self.offset_ms + int((time.monotonic() - self._origin) * 1000 * self.speed)

    def advance(self, ms: int) -> None:
        self.offset_ms += ms


@dataclass
class _Session:
    active: bool = False
    resume_k: int | None = None
    dropped_at: int = 0
    released_at: float = 0.0
    holder: ServerConnection | None = None  # whose handshake took the session


class _Connection(ServerConnection):
    """Records when the client last sent any frame (pings included), for the idle timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.last_client_frame = time.monotonic()

    def process_event(self, event: Any) -> None:
        if isinstance(event, WsFrame):
            self.last_client_frame = time.monotonic()
        super().process_event(event)


@dataclass
class _Stream:
    token: str
    cid: str
    kind: str
    since: int | None
    to: int | None


class Simulator:
    """The server; `async with Simulator(options) as sim:` serves on `sim.url`."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = options or SimOptions()
        line = self.options.timeline
        self.clock = SimClock(self.options.start_ms or line.epoch_ms + 2 * HOUR_MS, self.options.speed)
        self.sessions: dict[tuple[str, str], _Session] = {}
        self.stats: dict[str, int] = {"handshakes": 0, "refused": 0, "drops": 0, "frames": 0, "bad_frames": 0}
        self._server: Server | None = None
        self._frames: dict[tuple[str, int], str] = {}
        self._counted = 0  # event frames sent by every session, for `drop_every`
        self._opens = 0  # sessions accepted, for `storm_every`

    @property
    def timeline(self) -> Timeline:
        return self.options.timeline

    @property
    def url(self) -> str:
        assert self._server is not None, "the simulator is not started"
        port = self._server.sockets[0].getsockname()[1]
        scheme = "wss" if self.options.ssl_context else "ws"
        return f"{scheme}://{self.options.host}:{port}/v1/stream"

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await serve(
            self._handle,
            self.options.host,
            self.options.port,
            process_request=self._process_request,
            process_response=self._process_response,
            create_connection=_Connection,
            ssl=self.options.ssl_context,
            max_size=2**20,
            ping_interval=None,
            compression=None,
            logger=logging.getLogger("podship.simulator.ws"),
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # --- handshake ----------------------------------------------------------------------------

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.stats["handshakes"] += 1
        url = urlsplit(request.path)
        if url.path.startswith("/_sim/"):
            try:
                return self._control(connection, url.path, parse_qs(url.query))
            except ValueError as exc:  # a test's typo: a 400 that says what was wrong, not a 500
                return connection.respond(400, f"bad control request: {exc}\n")
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        status, text = self._admit(connection, request, url.path, query)
        if status != http.HTTPStatus.SWITCHING_PROTOCOLS:
            self.stats["refused"] += 1
            return connection.respond(status, text)
        return None

    def _admit(
        self, connection: ServerConnection, request: Request, path: str, query: dict[str, str]
    ) -> tuple[int, str]:
        if request.method != "GET":
            return 405, "Method Not Allowed\n"
        if path != "/v1/stream":
            return 404, "Not Found\n"
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if token not in self.options.tokens:
            return 401, "Unauthorized\n"
        stream, problem = self._parse_stream(token, query)
        if stream is None:
            return 400, problem
        if stream.cid != self.options.tokens[token]:
            return 401, "Unauthorized: wrong cluster id for this token\n"
        return self._open(stream, connection)

    def _parse_stream(self, token: str, query: dict[str, str]) -> tuple[_Stream | None, str]:
        cid, kind = query.get("cid", ""), query.get("type", "")
        if not cid or not kind:
            return None, "cid and type are required\n"
        try:
            kind = canonical_type(kind)
            since = parse_ts(query["sinceTime"]) if "sinceTime" in query else None
            to = parse_ts(query["toTime"]) if "toTime" in query else None
        except ValueError as exc:
            return None, f"{exc}\n"
        if since is not None and floor_hour(since) < self.clock.now() - 30 * 24 * HOUR_MS:
            return None, "sinceTime is older than 30 days\n"
        return _Stream(token, cid, kind, since, to), ""

    def _open(self, stream: _Stream, connection: ServerConnection) -> tuple[int, str]:
        faults = self.options.faults
        if faults.refuse_count > 0:
            faults.refuse_count -= 1
            return faults.refuse_status, "Refused by fault injection\n"
        session = self.sessions.setdefault((stream.token, stream.kind), _Session())
        # A client that vanishes during its handshake never reaches the handler: its session is free.
        busy = session.active and session.holder is not None and session.holder.state is not State.CLOSED
        if busy or time.monotonic() < session.released_at + self.options.release_secs:
            return 409, "Conflict: a session for this token and type exists\n"
        session.active, session.holder = True, connection
        self._opens += 1
        if faults.storm_every and self._opens % faults.storm_every == 0:
            faults.refuse_count += faults.storm_size
        return http.HTTPStatus.SWITCHING_PROTOCOLS, ""

    def _process_response(self, connection: ServerConnection, request: Request, response: Response) -> None:
        # Clients estimate the server's clock from Date; ours is the simulator's clock.
        del response.headers["Date"]
        response.headers["Date"] = email.utils.formatdate(self.clock.now() / 1000, usegmt=True)

    # --- control endpoints (tests) --------------------------------------------------------------

    def _control(self, connection: ServerConnection, path: str, query: dict[str, list[str]]) -> Response:
        args = {key: values[-1] for key, values in query.items()}
        if path == "/_sim/advance":
            self.clock.advance(int(float(args.get("secs", "0")) * 1000))
        elif path == "/_sim/faults":
            self._set_faults(args)
        elif path == "/_sim/ids":
            return self._ids(connection, args)
        elif path != "/_sim/state":
            return connection.respond(404, "Not Found\n")
        return _json(connection, {"now": self.clock.now(), "stats": self.stats})

    def _ids(self, connection: ServerConnection, args: dict[str, str]) -> Response:
        """The ids of `type` generated in [since, until) (epoch ms); a 400 says what is missing."""
        try:
            kind, since, until = args["type"], int(args["since"]), int(args["until"])
            ids = list(self.timeline.ids(kind, since, until))
        except KeyError:
            usage = "expected /_sim/ids?type=message|maillog|audit&since=EPOCH_MS&until=EPOCH_MS\n"
            return connection.respond(400, usage)
        return _json(connection, {"ids": ids})

    def _set_faults(self, args: dict[str, str]) -> None:
        for spec in fields(Faults):
            if spec.name in args:
                setattr(self.options.faults, spec.name, int(args[spec.name]))

    # --- streaming ----------------------------------------------------------------------------

    async def _handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        query = {k: v[-1] for k, v in parse_qs(urlsplit(connection.request.path).query).items()}
        token = connection.request.headers["Authorization"].removeprefix("Bearer ").strip()
        stream, _ = self._parse_stream(token, query)
        assert stream is not None
        session = self.sessions[(stream.token, stream.kind)]
        try:
            if stream.since is None:
                await self._live(connection, stream.kind, session)
            else:
                await self._archive(connection, stream)
        except ConnectionClosed:
            pass
        finally:
            session.active, session.released_at = False, time.monotonic()
            if stream.since is None:
                session.dropped_at = self.clock.now()

    def _resume_index(self, kind: str, session: _Session) -> int:
        now = self.clock.now()
        if session.resume_k is None:
            return self.timeline.index(kind, now)
        if now - session.dropped_at <= self.options.resume_ms:
            return session.resume_k
        return self.timeline.index(kind, now - self.options.resume_ms)

    async def _live(self, connection: ServerConnection, kind: str, session: _Session) -> None:
        k = first = self._resume_index(kind, session)
        session.resume_k = k
        sent = 0
        while True:
            while self.timeline.at(kind, k) <= self.clock.now():
                sent += 1
                if self._should_drop():
                    session.resume_k = k + self.options.faults.drop_lose
                    self._abort(connection)
                    return
                await self._send_event(connection, kind, k, sent)
                if self._cut(connection, sent):
                    session.resume_k = first
                    return
                k += 1
                session.resume_k = k
            if not await self._wait(connection, self.timeline.at(kind, k)):
                return

    def _should_drop(self) -> bool:
        """Counted across sessions, so that a session re-sending an hour still gets further."""
        self._counted += 1
        every = self.options.faults.drop_every
        return every > 0 and self._counted % every == 0

    def _cut(self, connection: ServerConnection, sent: int) -> bool:
        """`cut_after`: this session has sent its events; aborted (True) as a drop is."""
        if not 0 < self.options.faults.cut_after <= sent:
            return False
        self._abort(connection)
        return True

    def _abort(self, connection: ServerConnection) -> None:
        self.stats["drops"] += 1
        connection.transport.abort()  # no close frame: the client sees 1006

    def _frame(self, kind: str, k: int) -> str:
        text = self._frames.get((kind, k))
        if text is None:
            text = json.dumps(self.timeline.event(kind, k), ensure_ascii=False)
            if len(self._frames) < self.options.frame_cache:
                self._frames[(kind, k)] = text
        return text

    async def _send_event(self, connection: ServerConnection, kind: str, k: int, sent: int) -> None:
        text = self._frame(kind, k)
        faults = self.options.faults
        binary = faults.binary_every > 0 and k % faults.binary_every == 0
        await connection.send(text.encode() if binary else text)
        self.stats["frames"] += 1
        if self.stats["frames"] % YIELD_EVERY == 0:  # send() does not yield while the socket takes
            await asyncio.sleep(0)  # it: without this one session starves every other handshake
        if faults.bad_every > 0 and sent > 0 and sent % faults.bad_every == 0:
            self.stats["bad_frames"] += 1
            await connection.send(_BAD_FRAMES[(sent // faults.bad_every) % len(_BAD_FRAMES)])

    async def _wait(self, connection: ServerConnection, next_ms: int) -> bool:
        """Sleep until the next event is due; False when the connection ended or went idle."""
        idle = time.monotonic() - getattr(connection, "last_client_frame", time.monotonic())
        if idle > self.options.idle_timeout_secs:
            self._abort(connection)
            return False
        delay = max(0.0, (next_ms - self.clock.now()) / 1000 / self.options.speed)
        try:
            await asyncio.wait_for(asyncio.shield(connection.wait_closed()), min(delay, 0.2))
        except TimeoutError:
            return True
        return False

    async def _archive(self, connection: ServerConnection, stream: _Stream) -> None:
        assert stream.since is not None
        line, kind = self.timeline, stream.kind
        start = floor_hour(stream.since)
        end = math.inf if stream.to is None else ceil_hour(stream.to)
        k, sent = line.index(kind, start), 0
        while line.at(kind, k) < end + line.jitter_ms:
            if line.at(kind, k) > self.clock.now() - self.options.archive_staleness_ms:
                if stream.to is not None:
                    break
                if not await self._wait(connection, line.at(kind, k) + self.options.archive_staleness_ms):
                    return
                continue
            if start <= line.ts(kind, k) < end:
                sent += 1
                if self.options.faults.cut_archive and self._should_drop():
                    self._abort(connection)
                    return
                await self._send_event(connection, kind, k, sent)
                if self._cut(connection, sent):
                    return
            k += 1
        await connection.close(1000, "archive window complete")


def _json(connection: ServerConnection, body: dict[str, Any]) -> Response:
    response = connection.respond(200, json.dumps(body))
    response.headers = Headers([("Content-Type", "application/json"), *response.headers.raw_items()])
    return response


__all__ = ["TYPES", "Faults", "SimOptions", "Simulator"]
