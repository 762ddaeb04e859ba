"""A stand-in of the PoD Log API for benchmarks: pre-encoded frames from memory, nothing per frame.

At start it generates the events of `--hours` archive hours once (podship.simgen), JSON-encodes
each once and frames it as an unmasked WebSocket text frame; frames are joined into chunks of about
256 KiB per (type, hour). Serving a window is then a loop of `transport.write(chunk)` and a drain:
no encoding, no framing, no per-frame call. The websockets library does the handshake, pings and
the closing handshake; the data frames bypass it (written whole, so they never interleave).

Enough of the API for `podship run`: `/v1/stream?cid=&type=[&sinceTime=&toTime=]`, a Bearer token
bound to the cluster id, a `Date` header giving the server's clock (an hour and ten minutes after
the last served hour, so that podship plans every served hour as complete), archive windows
`[floor_hour(sinceTime), ceil_hour(toTime))` sent and then closed with 1000, and live sessions
that send nothing new and idle until the client leaves. Not modelled: one session per (token,
type), the 30-day limit, faults.

    python tests/benchmarks/server.py --workload message --events 100000 --hours 24

It prints one JSON line once it listens: port, clock, served hours and frame counts per type.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import email.utils
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response

from podship.core.pod import HOUR_MS, TYPES, ceil_hour, floor_hour, parse_ts
from podship.devtools.simgen import Timeline

TOKEN = "bench-token"
CLUSTER = "acme_hosted"
CHUNK_BYTES = 256 << 10
# Relative rates per workload. The mix: message : maillog 1 : 2.3, audit rare (3% of events).
WORKLOADS: dict[str, dict[str, float]] = {
    "message": {"message": 1.0},
    "mix": {"message": 2.0, "maillog": 4.6, "audit": 0.2},
}
BIG_EVERY = {"message": 0, "mix": 2000}  # every Nth message event carries 1.2 MB of msgParts


def realistic(event: dict[str, Any]) -> dict[str, Any]:
    """simgen's message events average 3.3 KB compact; Elastic's public PoD fixtures 2.5 KB. Drop
    the PDF attachment part, the ten spam classifier scores, the DMARC module and the normalised
    header copy: 2.45 KB on average (2.2-2.7 KB), about 50 nested maps and lists each."""
    if "msgParts" not in event:
        return event
    event["msgParts"] = [p for p in event["msgParts"] if p["disposition"] != "attached" or "dataBase64" in p]
    event["filter"]["modules"]["spam"]["scores"].pop("classifiers", None)
    event["filter"]["modules"].pop("dmarc", None)
    event["msg"].pop("normalizedHeader", None)
    return event


@dataclass
class Catalog:
    """The pre-framed chunks of every served (type, hour), and what they hold."""

    epoch_ms: int
    hours: int
    chunks: dict[tuple[str, int], list[bytes]] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    payload_bytes: dict[str, int] = field(default_factory=dict)
    _open: dict[tuple[str, int], bytearray] = field(default_factory=dict)

    def add(self, kind: str, hour: int, payload: bytes) -> None:
        """Frame one event once; join an hour's frames into a chunk each time they fill one."""
        pending = self._open.setdefault((kind, hour), bytearray())
        pending += Frame(Opcode.TEXT, payload).serialize(mask=False)
        if len(pending) >= CHUNK_BYTES:
            self.seal(kind, hour)
        self.frames[kind] = self.frames.get(kind, 0) + 1
        self.payload_bytes[kind] = self.payload_bytes.get(kind, 0) + len(payload)

    def seal(self, kind: str, hour: int) -> None:
        pending = self._open.pop((kind, hour), None)
        if pending:
            self.chunks.setdefault((kind, hour), []).append(bytes(pending))

    def summary(self) -> dict[str, Any]:
        sizes = {kind: round(self.payload_bytes[kind] / count) for kind, count in self.frames.items()}
        return {"epoch_ms": self.epoch_ms, "hours": self.hours, "frames": self.frames, "mean_bytes": sizes}


def build(workload: str, events: int, hours: int, seed: int = 1) -> Catalog:
    """`events` events in total over `hours` hours, at the workload's relative rates."""
    weights = WORKLOADS[workload]
    scale = events / (hours * 3600 * sum(weights.values()))
    line = Timeline(seed, rates={k: w * scale for k, w in weights.items()}, big_every=BIG_EVERY[workload])
    catalog = Catalog(line.epoch_ms, hours)
    for kind in weights:
        _generate(catalog, line, kind)
        for hour in range(hours):
            catalog.seal(kind, hour)
    return catalog


def _generate(catalog: Catalog, line: Timeline, kind: str) -> None:
    """Events generated in the served hours, by the hour their `ts` falls in (a little out of order)."""
    end = line.epoch_ms + catalog.hours * HOUR_MS
    for k in range(line.index(kind, line.epoch_ms), line.index(kind, end)):
        hour = (line.ts(kind, k) - line.epoch_ms) // HOUR_MS
        if 0 <= hour < catalog.hours:
            catalog.add(kind, hour, orjson.dumps(realistic(line.event(kind, k))))


class Stand:
    """The server: admits a request, then serves live or an archive window from the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.clock_origin = catalog.epoch_ms + (catalog.hours + 1) * HOUR_MS + 10 * 60_000
        self.started = time.monotonic()

    def now_ms(self) -> int:
        return self.clock_origin + int((time.monotonic() - self.started) * 1000)

    def admit(self, connection: ServerConnection, request: Request) -> Response | None:
        url = urlsplit(request.path)
        if url.path != "/v1/stream":
            return connection.respond(404, "Not Found\n")
        if request.headers.get("Authorization", "") != f"Bearer {TOKEN}":
            return connection.respond(401, "Unauthorized\n")
        try:
            _window(_query(request.path))
        except (KeyError, ValueError) as exc:
            return connection.respond(400, f"Bad Request: {exc}\n")
        return None

    def date(self, connection: ServerConnection, request: Request, response: Response) -> None:
        del response.headers["Date"]
        response.headers["Date"] = email.utils.formatdate(self.now_ms() / 1000, usegmt=True)

    async def handle(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        kind, since, to = _window(_query(connection.request.path))
        with contextlib.suppress(ConnectionClosed, ConnectionError):
            if since is not None:
                await self.archive(connection, kind, since, to)
            if to is None:  # live (or an open-ended archive, now caught up): nothing new happens
                await connection.wait_closed()

    async def archive(self, connection: ServerConnection, kind: str, since: int, to: int | None) -> None:
        epoch, transport = self.catalog.epoch_ms, connection.transport
        first = (floor_hour(since) - epoch) // HOUR_MS
        last = self.catalog.hours if to is None else (ceil_hour(to) - epoch) // HOUR_MS
        for hour in range(max(first, 0), min(last, self.catalog.hours)):
            for chunk in self.catalog.chunks.get((kind, hour), ()):
                if transport.is_closing():
                    return
                transport.write(chunk)
                await connection.drain()
        if to is not None:
            await connection.close(1000, "archive window complete")


def _query(path: str) -> dict[str, str]:
    return {key: values[-1] for key, values in parse_qs(urlsplit(path).query).items()}


def _window(query: dict[str, str]) -> tuple[str, int | None, int | None]:
    """(type, sinceTime, toTime) of a stream request; KeyError or ValueError when it is wrong."""
    if query["cid"] != CLUSTER or query["type"] not in TYPES:
        raise ValueError("unknown cluster id or type")
    since = parse_ts(query["sinceTime"]) if "sinceTime" in query else None
    to = parse_ts(query["toTime"]) if "toTime" in query else None
    if to is not None and since is None:
        raise ValueError("toTime without sinceTime")
    return query["type"], since, to


async def serve_catalog(catalog: Catalog, port: int) -> None:
    stand = Stand(catalog)
    async with serve(
        stand.handle,
        "127.0.0.1",
        port,
        process_request=stand.admit,
        process_response=stand.date,
        compression=None,
        max_size=1 << 20,
        ping_interval=None,
        write_limit=4 * CHUNK_BYTES,
    ) as server:
        bound = server.sockets[0].getsockname()[1]
        print(json.dumps({"port": bound, "now_ms": stand.now_ms(), **catalog.summary()}), flush=True)
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="message")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--hours", type=int, default=24, help="archive hours served (at most 24)")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    catalog = build(args.workload, args.events, args.hours)
    print(f"generated {sum(catalog.frames.values()):,} frames", file=sys.stderr)
    asyncio.run(serve_catalog(catalog, args.port))


if __name__ == "__main__":
    main()
