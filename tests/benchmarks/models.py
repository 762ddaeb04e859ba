"""CPU per event of each record model, beside the default, on the simulator's events.

Per event: the syslog-index record as the pipeline makes it today (`normalise`, from a freshly
parsed event) and its JSON line (`dumps`) is the default's cost; an output with another
`schema` renders and encodes that model instead of encoding the syslog-index record (with
`schema_original` raw_data, the default, and none). Process CPU time on one core, best of
`--repeat` runs; no event over 1 MiB in the sample.

    python tests/benchmarks/models.py [--events 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from typing import Any

from podship.core.encode_json import dumps, loads
from podship.core.models import MODELS
from podship.core.pod import event_identity
from podship.core.records import normalise
from podship.devtools.simgen import Timeline

MIX = ("message", "maillog", "maillog", "message", "maillog", "maillog", "audit")  # about the PoD ratio


def frames(count: int, kinds: tuple[str, ...]) -> list[tuple[str, bytes]]:
    line = Timeline(seed=5)
    return [
        (kinds[k % len(kinds)], json.dumps(line.event(kinds[k % len(kinds)], k)).encode())
        for k in range(count)
    ]


def records(batch: list[tuple[str, bytes]]) -> list[dict[str, Any]]:
    out = []
    for kind, frame in batch:
        event = loads(frame)
        event_id, ts = event_identity(event, kind)
        out.append(normalise(event, kind, event_id, ts, {"tenant_name": "acme", "connector": kind}))
    return out


def cpu_us(work: Callable[[], object], events: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / events * 1e6


def measure(batch: list[tuple[str, bytes]], repeat: int) -> dict[str, float]:
    made = records(batch)
    figures = {"parse + normalise (the pipeline today)": cpu_us(lambda: records(batch), len(batch), repeat)}
    figures["syslog_index: + encode"] = cpu_us(lambda: [dumps(r) for r in made], len(batch), repeat)
    for name in ("ocsf", "ecs"):
        for place in ("raw_data", "none"):
            model = MODELS[name]
            run = lambda m=model, p=place: [dumps(m(copy.copy(r), p)) for r in made]  # noqa: E731
            figures[f"{name} ({place}): render + encode"] = cpu_us(run, len(batch), repeat)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for label, kinds in (("mix", MIX), ("message only", ("message",))):
        print(f"{label}, {args.events} simgen events, us of CPU per event:")
        for name, figure in measure(frames(args.events, kinds), args.repeat).items():
            print(f"  {name:<42} {figure:7.1f}")


if __name__ == "__main__":
    main()
