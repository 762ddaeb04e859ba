"""`GET /metrics`: the Prometheus exposition, written by prometheus-client.

Nothing here is on the hot path: the pipeline keeps plain counters as it works, and a custom
collector turns a status snapshot into metric families only when Prometheus scrapes. The library
gives what hand-written text got wrong or left out: HELP and TYPE for every family, label values
escaped, `_total` on counters, the content type of the format; and, for free, the process metrics
(`process_resident_memory_bytes`, CPU, open files) that dashboards of every exporter show.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from prometheus_client import CONTENT_TYPE_LATEST, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from podship import __version__

MODES = ("live", "backfill", "idle", "failed", "stopped")
_CONNECTOR_COUNTERS = {
    "events": "Events received and admitted (new ids).",
    "delivered": "Events every output has acknowledged.",
    "duplicates": "Events dropped as already seen (repair overlap, re-sends).",
    "dead_letters": "Frames set aside as unreadable, with their reason.",
    "reconnects": "Sessions that failed or dropped and were opened again.",
    "archive_windows": "Archive windows fetched completely.",
    "refusals": "Handshakes the server refused (401, 409 after the release wait, 429, 5xx).",
    "release_waits": "409s while the server released our own last session (not errors).",
}
_OUTPUT_COUNTERS = {
    "sent": "Records an output took (written, drained or acknowledged).",
    "retried": "Attempts at a batch that failed and are tried again (with backoff).",
    "failed": "Batches an output failed to deliver for good (a reader that closed stdout).",
    "dead_letters": "Records an output could not encode, set aside in their input's dead-letter file.",
}
CONTENT_TYPE = CONTENT_TYPE_LATEST
# One collector for the process (it reads /proc/self when scraped; elsewhere it yields nothing);
# `registry=None` keeps it out of the library's global registry, which podship does not serve.
_PROCESS = ProcessCollector(registry=None)


Running = TypeVar("Running")  # the pipeline, as status.snapshot reads it


class _Snapshot(Collector, Generic[Running]):
    """Metric families from `status.snapshot(pipeline)`, computed at scrape time."""

    def __init__(self, pipeline: Running, snapshot: Callable[[Running], dict[str, Any]]) -> None:
        self.pipeline, self.snapshot = pipeline, snapshot

    def collect(self) -> Iterator[Metric]:
        status = self.snapshot(self.pipeline)
        connectors = status["connectors"]
        yield from _connector_counters(connectors)
        yield from _connector_gauges(connectors)
        yield from _pipeline_metrics(status)
        yield _build_info()


def _connector_counters(connectors: dict[str, Any]) -> Iterator[Metric]:
    for name, text in _CONNECTOR_COUNTERS.items():
        family = CounterMetricFamily(f"podship_{name}", text, labels=["connector"])
        for connector, state in connectors.items():
            family.add_metric([connector], state[name])
        yield family


def _connector_gauges(connectors: dict[str, Any]) -> Iterator[Metric]:
    mode = GaugeMetricFamily(
        "podship_mode", "1 for the mode each connector is in.", labels=["connector", "mode"]
    )
    holes = GaugeMetricFamily("podship_holes", "Spans waiting for an archive repair.", labels=["connector"])
    # Counts of hour-sized archive slots, not durations: a name ending in `hours` reads as a time in
    # a non-base unit, and `promtool check metrics` refuses it.
    awaited = GaugeMetricFamily(
        "podship_archive_hour_backlog", "Archive hours the holes still need.", labels=["connector"]
    )
    overdue = GaugeMetricFamily(
        "podship_archive_hour_overdue",
        "Archive hours the holes need that the archive already holds whole (past archive_delay).",
        labels=["connector"],
    )
    lag = GaugeMetricFamily(
        "podship_lag_seconds", "Newest event received, behind the server's clock.", labels=["connector"]
    )
    for connector, state in connectors.items():
        for name in MODES:
            mode.add_metric([connector, name], 1.0 if state["mode"] == name else 0.0)
        if "holes" in state:
            holes.add_metric([connector], state["holes"])
            awaited.add_metric([connector], state["archive_hours_awaited"])
            overdue.add_metric([connector], state["archive_hours_overdue"])
        if "lag_secs" in state:
            lag.add_metric([connector], state["lag_secs"])
    yield from (mode, holes, awaited, overdue, lag)


def _pipeline_metrics(status: dict[str, Any]) -> Iterator[Metric]:
    yield CounterMetricFamily(
        "podship_records_out", "Records through the pipeline.", value=status["records_out"]
    )
    yield CounterMetricFamily(
        "podship_dropped_by_rules", "Records that log-filter rules dropped.", value=status["dropped_by_rules"]
    )
    yield GaugeMetricFamily(
        "podship_queue_depth", "Records between inputs and outputs.", value=status["queue_depth"]
    )
    yield GaugeMetricFamily(
        "podship_storage_blocked",
        "1 while state writes fail (full disk, quota, I/O error, read-only): reading is held; else 0.",
        value=1.0 if status["storage"]["blocked"] else 0.0,
    )
    for name, text in _OUTPUT_COUNTERS.items():
        family = CounterMetricFamily(f"podship_output_{name}", text, labels=["output"])
        for output, counts in status["outputs"].items():
            family.add_metric([output], counts[name])
        yield family


def _build_info() -> Metric:
    """What runs, as the `*_build_info` convention says: a gauge of 1 whose labels are the facts."""
    family = GaugeMetricFamily(
        "podship_build_info", "podship's version and Python's; always 1.", labels=["version", "python"]
    )
    family.add_metric([__version__, platform.python_version()], 1.0)
    return family


def exposition(pipeline: Running, snapshot: Callable[[Running], dict[str, Any]]) -> bytes:
    """The text format for one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(pipeline, snapshot))
    registry.register(_PROCESS)
    return generate_latest(registry)
