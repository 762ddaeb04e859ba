"""CPU per event of each record model, beside the default, on the simulator's events.

Per event: the frame taken as the PoD input takes it (`decode_frame` reads its id and time,
`arrived` keeps its text), then parsed, rendered in one model at the output and encoded as
JSON: the syslog-index record (the default, its original compact), or OCSF or ECS (with
`original` raw_data, their default, and none). Process CPU time on one core, best of `--repeat`
runs; no event over 1 MiB in the sample.

    python tests/benchmarks/models.py [--events 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

from podship.core.encode_json import dumps
from podship.core.event.envelope import Event
from podship.core.models import renderer
from podship.core.pod import decode_frame, event_identity
from podship.core.records import arrived
from podship.devtools.simgen import Timeline

MIX = ("message", "maillog", "maillog", "message", "maillog", "maillog", "audit")  # about the PoD ratio


def frames(count: int, kinds: tuple[str, ...]) -> list[tuple[str, bytes]]:
    line = Timeline(seed=5)
    return [
        (kinds[k % len(kinds)], json.dumps(line.event(kinds[k % len(kinds)], k)).encode())
        for k in range(count)
    ]


def events(batch: list[tuple[str, bytes]]) -> list[Event]:
    """The events as the PoD input hands them on: the frame's head read (its id and time), the
    event kept as the frame's text, parsed where it is first rendered."""
    out = []
    for kind, data in batch:
        frame = decode_frame(data, 1 << 20)
        assert frame.head is not None, frame.reason
        event_id, ts = event_identity(frame.head, kind)
        context = {"tenant_name": "acme", "connector": kind}
        out.append(arrived(frame.event, kind, event_id, ts, context, text=frame.text))
    return out


def cpu_us(work: Callable[[], object], events: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return best / events * 1e6


def measure(batch: list[tuple[str, bytes]], repeat: int) -> dict[str, float]:
    """Each figure takes fresh events, and renders each as the pipeline's worker does: once
    taken, then released (a rendering is kept on its event, and would be free twice)."""
    taken = cpu_us(lambda: events(batch), len(batch), repeat)
    figures = {"head + take (the input)": taken}
    for name, place in (
        ("syslog_index", "compact"),
        *((m, p) for m in ("ocsf", "ecs") for p in ("raw_data", "none")),
    ):
        render = renderer(name, place)
        run = lambda r=render: [_rendered(r, e) for e in events(batch)]  # noqa: E731
        figures[f"+ {name} ({place}): render + encode"] = cpu_us(run, len(batch), repeat) - taken
    return figures


def _rendered(render: Callable[[Event], dict[str, object]], event: Event) -> bytes:
    line = dumps(render(event))
    event.release()
    return line


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
