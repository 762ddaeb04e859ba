"""What rendering in a worker process would cost and give: the output stage's work on a second core.

The events are the benchmark server's (message and maillog, 1 : 2.3, as two connectors of one
pipeline carry them), handed over as the PoD input hands them on (the frame's text, id, time).
Three ways to turn them into stdout lines are timed over the same events:

- `in process`: render, encode and release each event in the pipeline's process (what podship does);
- `worker`: batches of 500 events (the default batch_size) sent to one worker process, which renders
  them and sends the lines back; two batches in flight, so that both processes work at once and
  each batch comes back in order (per-connector order and the acknowledgement chain unchanged).

For each: events/s of the stage alone, the pipeline process's CPU per event, the worker's, and
their sum. The hand-over is the cost: the pipeline process still receives every frame (about 25 us
per message event in tests/benchmarks/wire.py's profile, outside this stage).

    python tests/benchmarks/offload.py --events 20000
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.benchmarks.server import realistic

from podship.core.encode_json import ndjson_line
from podship.core.event.envelope import Event
from podship.core.models import renderer
from podship.core.pod import event_identity, parse_ts
from podship.devtools.simgen import Timeline

BATCH = 500
CONTEXT = {"tenant_name": "bench", "connector": "bench", "collector_host": "bench"}
Handed = tuple[str, str, int, bytes]  # kind, id, time, text: what crosses to the worker


def handed(events: int) -> list[Handed]:
    """The events as the input hands them on, message : maillog 1 : 2.3."""
    line = Timeline(1, rates={"message": 2.0, "maillog": 4.6})
    out: list[Handed] = []
    for k in range(events):
        kind = "message" if k % 33 < 10 else "maillog"
        body = realistic(line.event(kind, k))
        event_id, _ = event_identity(body, kind)
        out.append((kind, event_id, parse_ts(body["ts"]), orjson.dumps(body)))
    return out


def lines(batch: list[Handed]) -> bytes:
    """The stdout lines of a batch, rendered as the pipeline renders them (one event at a time)."""
    render, out = renderer("syslog_index", None), []
    for kind, event_id, ts, text in batch:
        event = Event(kind, event_id, ts, CONTEXT, text=text)
        out.append(ndjson_line(render(event)))
        event.release()
    return b"".join(out)


def worker_lines(batch: list[Handed]) -> tuple[bytes, float]:
    started = time.process_time()
    data = lines(batch)
    return data, time.process_time() - started


def in_process(events: list[Handed]) -> dict[str, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(events), BATCH):
        lines(events[start : start + BATCH])
    return {"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "worker_cpu": 0.0}


def offloaded(events: list[Handed]) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=context) as pool:
        pool.submit(lines, events[:10]).result()  # the worker has started and imported podship
        wall, cpu, worker_cpu = time.perf_counter(), time.process_time(), 0.0
        flight: list[Future[tuple[bytes, float]]] = []
        for start in range(0, len(events), BATCH):
            flight.append(pool.submit(worker_lines, events[start : start + BATCH]))
            if len(flight) == 2:
                worker_cpu += flight.pop(0).result()[1]
        worker_cpu += sum(future.result()[1] for future in flight)
        return {
            "seconds": time.perf_counter() - wall,
            "cpu": time.process_time() - cpu,
            "worker_cpu": worker_cpu,
        }


def row(name: str, figures: dict[str, float], count: int) -> str:
    us = {key: figures[key] * 1e6 / count for key in ("cpu", "worker_cpu")}
    return (
        f"{name:<11} {count / figures['seconds']:>9,.0f} events/s  pipeline process {us['cpu']:5.1f} us/event"
        f"  worker {us['worker_cpu']:5.1f}  sum {us['cpu'] + us['worker_cpu']:5.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is shown")
    args = parser.parse_args()
    events = handed(args.events)
    for name, way in (("in process", in_process), ("worker", offloaded)):
        best = min((way(events) for _ in range(args.repeat)), key=lambda figures: figures["seconds"])
        print(row(name, best, len(events)), flush=True)


if __name__ == "__main__":
    main()
