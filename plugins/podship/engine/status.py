"""The running pipeline's status: JSON at `GET /status`, Prometheus text at `GET /metrics`, and the
same as one log line every `status_interval`. A small HTTP/1.1 responder on a local address; it
reads counters that the inputs, filters and outputs keep anyway."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections import Counter
from typing import Any, Protocol

from podship.core.pod import iso_utc
from podship.core.units import counted
from podship.engine import metrics
from podship.engine.config import listen_address
from podship.engine.settings import ServiceOptions
from podship.errors import ConfigError
from podship.runtime.plugin import Input, InputStatus, Item
from podship.runtime.storage import StorageWatch

log = logging.getLogger("podship.status")
_COUNTERS = (
    "events",
    "delivered",
    "duplicates",
    "dead_letters",
    "reconnects",
    "archive_windows",
    "refusals",
    "release_waits",
)


class Running(Protocol):
    """What the status reads of a running pipeline: counters it keeps anyway."""

    service: ServiceOptions
    inputs: list[Input]
    queue: asyncio.Queue[Item]
    delivery: dict[str, Counter[str]]
    storage: StorageWatch
    records_out: int
    dropped: int


def snapshot(pipeline: Running) -> dict[str, Any]:
    connectors = {source.name: _connector(source) for source in pipeline.inputs}
    return {
        "time": iso_utc(int(time.time() * 1000)),
        "records_out": pipeline.records_out,
        "dropped_by_rules": pipeline.dropped,
        "queue_depth": pipeline.queue.qsize(),
        "outputs": {label: dict(counts) for label, counts in pipeline.delivery.items()},
        "storage": _storage(pipeline.storage),
        "connectors": connectors,
    }


def _storage(watch: StorageWatch) -> dict[str, Any]:
    """Whose state writes fail (reading is held meanwhile), with the error and since when."""
    failing = {
        writer: {"error": str(blocked.error), "since": iso_utc(int(blocked.since * 1000))}
        for writer, blocked in watch.blocked.items()
    }
    return {"blocked": bool(failing), "failing": failing}


def _connector(source: Input) -> dict[str, Any]:
    """One input's state, as it reports it (`Input.status`), in the words of `/status`."""
    report = source.status()
    stats, now = report.stats, report.now_ms
    counts = dataclasses.asdict(stats)
    state: dict[str, Any] = {"type": source.kind, "mode": "failed" if source.failure else report.mode}
    state["state"] = stats.state.value  # the core's call-order state: starting, waiting, live, ...
    state.update({name: counts[name] for name in _COUNTERS})
    if stats.newest_event_ms:
        state["last_event_time"] = iso_utc(stats.newest_event_ms)
        state["lag_secs"] = round(max(0.0, (now - stats.newest_event_ms) / 1000), 1)
    if stats.last_activity:
        state["last_activity"] = iso_utc(int(stats.last_activity * 1000))
    state.update(_repairs(report, now))
    if stats.awaiting:
        state["awaiting"] = stats.awaiting
    state["last_error"] = stats.last_error
    return state


def _repairs(report: InputStatus, now: int) -> dict[str, Any]:
    """The holes of an input that repairs them from an archive, and the archive hours they need."""
    coverage = report.coverage
    if coverage is None:
        return {}
    return {
        "holes": len(coverage.holes),
        "open_holes": [[iso_utc(h.start), iso_utc(h.end) if h.end else None] for h in coverage.holes],
        "archive_hours_awaited": coverage.hours_to_repair(now),
        "archive_hours_overdue": coverage.hours_overdue(now),
    }


def summary(status: dict[str, Any]) -> str:
    parts = []
    for name, state in status["connectors"].items():
        lag = state.get("lag_secs", "-")
        parts.append(f"{name} {state['mode']} in={state['events']} out={state['delivered']} lag={lag}s")
    held = ", ".join(status["storage"]["failing"])
    return "status: " + "; ".join(parts) + (f"; HELD: state writes fail for {held}" if held else "")


async def serve(pipeline: Running, listen: str) -> asyncio.Server:
    """The status server; an address podship cannot listen on is a mistake of `http_listen`."""
    host, port = listen_address(listen)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = (await reader.readuntil(b"\r\n\r\n")).split(b" ")
            path = request[1].decode() if len(request) > 1 else "/"
            writer.write(_response(path, pipeline))
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(answer, host, port)
    except OSError as exc:  # in use, not an address of this host, a name that does not resolve
        problem = f"cannot listen on {listen}: {exc.strerror or exc}"
        raise ConfigError(problem, plugin="service", option="http_listen") from None


def _response(path: str, pipeline: Running) -> bytes:
    if path == "/status":
        body, kind, code = json.dumps(snapshot(pipeline), indent=2).encode(), "application/json", "200 OK"
    elif path == "/metrics":
        body, kind, code = metrics.exposition(pipeline, snapshot), metrics.CONTENT_TYPE, "200 OK"
    else:
        body, kind, code = b"try /status or /metrics\n", "text/plain", "404 Not Found"
    head = (
        f"HTTP/1.1 {code}\r\nContent-Type: {kind}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


def started(pipeline: Running) -> None:
    """The start line: what runs, where its state lives."""
    inputs = ", ".join(f"{source.name} ({source.kind})" for source in pipeline.inputs)
    outputs = ", ".join(pipeline.delivery) or "none"
    log.info("starting: inputs %s; outputs %s; state in %s", inputs, outputs, pipeline.service.state_dir)


def stopped(pipeline: Running, code: int) -> None:
    """The stop line: what went out, and what was still in flight (fetched again at the next start)."""
    in_flight = pipeline.queue.qsize() + sum(source.pending() for source in pipeline.inputs)
    left = (
        f"{counted(in_flight, 'record')} in flight, fetched or sent again after the next start"
        if in_flight
        else "nothing in flight"
    )
    log.info("stopped (exit %d): %s delivered; %s", code, counted(pipeline.records_out, "record"), left)


async def report(pipeline: Running, every_secs: float) -> None:
    """One status log line every `every_secs`, as the Stellar connector updates its status."""
    while True:
        await asyncio.sleep(every_secs)
        log.info("%s", summary(snapshot(pipeline)))
