"""podship near the wire: each scenario beside the floor loop and a bare receive loop.

Per workload, tests/benchmarks/server.py serves 24 archive hours of pre-framed events from memory
in its own process (a few microseconds of its CPU per frame). Two baselines are measured in the
same run over the same frames, each by tests/benchmarks/bare.py: the bare loop, a websockets client
that receives every frame and decodes nothing (the rate the server allows; below 40,000 events/s
the server or the machine is what it measures, so no rate ratio is printed then), and the floor
(`--floor`), the same client parsing each frame with orjson and re-encoding it as a line into
/dev/null: what any transformation of the events must pay. Each scenario runs the real `podship
run` (input `url` at the server, `api_key: ${POD_API_KEY}`, a backfill covering the served hours,
every other option at its default) and reports events/s from the first record to the last, CPU
microseconds per event over that span (from /proc), and the headline: the floor's CPU per event
divided by podship's (0.4: podship costs 2.5 times the floor); also its rate as a share of the bare
loop's, and peak RSS. The floor is the cheapest of `--floor-runs` runs, so that noise never flatters
the ratio. The `split` scenario runs one podship process per type (workloads of several types):
events/s and CPU are then of all of them, and RSS the largest one's. A table of every scenario closes the run; `--json` holds the same figures.

    python tests/benchmarks/wire.py                              # both workloads, every scenario
    python tests/benchmarks/wire.py --workloads message --scenarios stdout --repeat 3
    python tests/benchmarks/wire.py --events 300000 --json wire.json

Workloads: `message`, message events only (2.45 KB on average); `mix`, message : maillog 1 : 2.3,
audit 3%, every 2,000th message over 1 MiB.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.benchmarks.bare import cpu_secs, peak_rss_kib
from tests.benchmarks.harness import Run, forward_receiver, lines_in, pipeline_file
from tests.benchmarks.rules import mixed
from tests.benchmarks.server import TOKEN
from tests.rsyslog import Rsyslog

HERE = Path(__file__).resolve().parent
HOUR_MS = 3_600_000
FLOOR = 40_000  # events/s the bare loop must reach for a ratio to mean anything
# stdout; Forward with acks; syslog over TCP into rsyslog; stdout behind 20 mixed rules; stdout with
# `schema: ocsf` and with `schema: ecs`; `split`: one podship process per type (each to its own
# stdout), the most a second core could give the connectors of one process (no hand-over cost).
SCENARIOS = ("stdout", "forward", "syslog", "filter", "ocsf", "ecs", "split")


class Stand:
    """The benchmark server in its own process, and what it serves."""

    def __init__(self, workload: str, events: int, hours: int) -> None:
        command = [sys.executable, str(HERE / "server.py"), "--workload", workload]
        command += ["--events", str(events), "--hours", str(hours)]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.info = json.loads(self.process.stdout.readline())
        self.ready = time.monotonic()
        self.workload = workload

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.info['port']}/v1/stream"

    @property
    def kinds(self) -> list[str]:
        return list(self.info["frames"])

    @property
    def frames(self) -> int:
        return sum(self.info["frames"].values())

    def backfill_secs(self) -> int:
        """From five minutes into the first served hour to the server's present."""
        now = self.info["now_ms"] + (time.monotonic() - self.ready) * 1000
        return int((now - self.info["epoch_ms"]) / 1000) - 300


def bare_loop(stand: Stand, floor: bool = False) -> dict[str, float]:
    """One run of bare.py (the floor with `floor`) over every served hour, as one window per type
    (as podship fetches them)."""
    since = stand.info["epoch_ms"]
    to = since + stand.info["hours"] * HOUR_MS
    command = [sys.executable, str(HERE / "bare.py"), *(["--floor"] if floor else [])]
    command += [stand.base, str(since), str(to), *stand.kinds]
    server_cpu = cpu_secs(stand.process.pid)
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    result["server_cpu_secs"] = cpu_secs(stand.process.pid) - server_cpu
    return result


def measure(runs: list[Run], counters: list[Callable[[], int]], expected: int) -> dict[str, float]:
    """Seconds and CPU seconds (of every process) from the first record to the last, peak RSS
    (the largest process's); then SIGTERM."""
    first, cpu0 = 0.0, 0.0
    while (count := sum(counter() for counter in counters)) < expected:
        for run in runs:
            if run.process.poll() is not None:
                raise RuntimeError(f"podship ended after {count} of {expected} records")
        if count and not first:
            first, cpu0 = time.perf_counter(), sum(cpu_secs(run.process.pid) for run in runs)
        if time.perf_counter() - runs[0].started > 600:
            for run in runs:
                run.process.kill()
            raise RuntimeError(f"podship took over 10 minutes; {count} of {expected} records")
        time.sleep(0.005)
    seconds = time.perf_counter() - first
    cpu = sum(cpu_secs(run.process.pid) for run in runs) - cpu0
    peak = max(peak_rss_kib(run.process.pid) for run in runs)
    for run in runs:
        run.process.send_signal(signal.SIGTERM)
        run.process.wait(timeout=60)
        if run.profiler is not None:
            run.profiler.wait(timeout=60)
    return {"seconds": seconds, "cpu_secs": cpu, "peak_rss_kib": peak, "startup": first - runs[0].started}


@contextmanager
def output_for(scenario: str, folder: Path) -> Iterator[tuple[dict[str, Any], Callable[[], int] | None]]:
    """The output section of a scenario and its record counter (None: count podship's stdout)."""
    if scenario == "forward":
        peer = forward_receiver()
        yield {"name": "forward", "port": peer.port}, lambda: peer.count
    elif scenario == "syslog":
        rsyslog = Rsyslog(folder / "rsyslog", max_message="512k").start()
        try:
            output = {"name": "syslog", "mode": "tcp", "port": rsyslog.tcp, "max_message_bytes": "256KiB"}
            yield output, lines_in(folder / "rsyslog" / "out.jsonl")
        finally:
            rsyslog.stop()
    elif scenario in ("ocsf", "ecs"):
        yield {"name": "stdout", "schema": scenario}, None
    else:
        yield {"name": "stdout"}, None


def filters_for(scenario: str, folder: Path) -> list[Any]:
    if scenario != "filter":
        return []
    rules = folder / "rules20.yaml"
    rules.write_text(yaml.safe_dump({"rules": [mixed(i) for i in range(20)]}))
    return [{"name": "log_filter", "rules_file": str(rules)}]


def scenario(
    stand: Stand, name: str, folder: Path, profile: Path | None, chosen: dict[str, str]
) -> dict[str, float]:
    folder.mkdir(parents=True)
    with output_for(name, folder) as (output, counter):
        backfill = f"{stand.backfill_secs()}s"
        groups = [[kind] for kind in stand.kinds] if name == "split" else [stand.kinds]
        paths = [
            pipeline_file(
                folder / "-".join(kinds),
                stand.base,
                kinds,
                backfill,
                output=output,
                filters=filters_for(name, folder),
                chosen=chosen,
            )
            for kinds in groups
        ]
        server_cpu = cpu_secs(stand.process.pid)
        runs = [Run(path, profile if len(paths) == 1 else None, counter is None) for path in paths]
        counters = [counter] if counter else [run.stdout_counter() for run in runs]
        figures = measure(runs, counters, stand.frames)
    figures["server_cpu_secs"] = cpu_secs(stand.process.pid) - server_cpu
    return figures


def rate(figures: dict[str, float]) -> float:
    return figures["frames"] / figures["seconds"]


def per_event_us(figures: dict[str, float], key: str = "cpu_secs") -> float:
    return figures[key] * 1e6 / figures["frames"]


def bare_row(name: str, figures: dict[str, float]) -> str:
    return (
        f"{name:<22} {figures['frames']:>9,.0f} events {rate(figures):>9,.0f}/s  "
        f"CPU {per_event_us(figures):5.1f} us/event  server CPU {per_event_us(figures, 'server_cpu_secs'):4.1f} "
        f"us/event  RSS {figures['peak_rss_kib'] / 1024:4.0f} MiB"
    )


def bare_ratio(figures: dict[str, Any], bare: dict[str, float]) -> float | None:
    """The scenario's rate as a share of the bare loop's; None when the bare loop is server-bound."""
    return rate(figures) / rate(bare) if rate(bare) >= FLOOR else None


def share(ratio: float | None) -> str:
    return "--" if ratio is None else f"{ratio:.2f}"


def scenario_row(name: str, figures: dict[str, Any]) -> str:
    return (
        f"{name:<22} {figures['frames']:>9,.0f} events {rate(figures):>9,.0f}/s  "
        f"CPU {figures['cpu_us']:5.1f} us/event (floor {figures['floor_cpu_us']:4.1f}: ratio "
        f"{figures['floor_ratio']:4.2f})  {share(figures['bare_ratio']):>4} of bare  "
        f"RSS {figures['peak_rss_kib'] / 1024:4.0f} MiB  first record {figures['startup']:.2f} s"
    )


def table(results: list[dict[str, Any]]) -> str:
    """Every scenario of the run, one line each; ratio = floor CPU per event / podship's."""
    lines = [
        f"{'workload':<9} {'scenario':<9} {'events/s':>9} {'CPU us/ev':>9} {'floor us/ev':>11} "
        f"{'ratio':>6} {'of bare':>7} {'RSS MiB':>7}"
    ]
    for r in results:
        if r["scenario"] in ("bare", "floor"):
            continue
        lines.append(
            f"{r['workload']:<9} {r['scenario']:<9} {rate(r):>9,.0f} {r['cpu_us']:>9.1f} "
            f"{r['floor_cpu_us']:>11.1f} {r['floor_ratio']:>6.2f} {share(r['bare_ratio']):>7} "
            f"{r['peak_rss_kib'] / 1024:>7.0f}"
        )
    return "\n".join(lines)


def baseline(stand: Stand, runs: int) -> dict[str, float]:
    """The best of `runs` bare loops (the ceiling: the highest rate makes no podship figure flatter)."""
    results = [bare_loop(stand) for _ in range(runs)]
    for result in results:
        print(bare_row(f"{stand.workload}/bare", result), flush=True)
    best = max(results, key=rate)
    if rate(best) < FLOOR:
        print(
            f"!! the bare loop reached {rate(best):,.0f} events/s, below {FLOOR:,}/s: the server or the "
            "machine is what it measures, so no ratio to it is printed",
            flush=True,
        )
    return best


def floor_loop(stand: Stand, runs: int) -> dict[str, float]:
    """The cheapest of `runs` floor loops in CPU per event (so that no ratio to it is flattered)."""
    results = [bare_loop(stand, floor=True) for _ in range(runs)]
    for result in results:
        print(bare_row(f"{stand.workload}/floor", result), flush=True)
    return min(results, key=per_event_us)


def _profile(args: argparse.Namespace, workload: str, name: str) -> Path | None:
    return Path(args.profile) / f"{workload}-{name}.raw" if args.profile else None


def run_workload(args: argparse.Namespace, workload: str, folder: Path) -> list[dict[str, Any]]:
    stand = Stand(workload, args.events, args.hours)
    results: list[dict[str, Any]] = []
    try:
        print(f"-- {workload}: {stand.frames:,} frames over {args.hours} archive hours, {stand.info}")
        bare = baseline(stand, args.bare_runs)
        floor = floor_loop(stand, args.floor_runs)
        results.append({"workload": workload, "scenario": "bare", "cpu_us": per_event_us(bare), **bare})
        results.append({"workload": workload, "scenario": "floor", "cpu_us": per_event_us(floor), **floor})
        names = [name for name in args.scenarios.split(",") if name != "split" or len(stand.kinds) > 1]
        # Round by round, every scenario once a round: the machine drifts by several percent over
        # minutes, which would bias the later scenarios of consecutive repeats.
        for attempt in range(args.repeat):
            for name in names:
                figures: dict[str, Any] = {
                    "frames": stand.frames,
                    **scenario(
                        stand,
                        name,
                        folder / f"{workload}-{name}-{attempt}",
                        _profile(args, workload, name),
                        dict(option.split("=", 1) for option in args.input_option),
                    ),
                }
                figures["cpu_us"] = per_event_us(figures)
                figures["floor_cpu_us"] = per_event_us(floor)
                figures["floor_ratio"] = figures["floor_cpu_us"] / figures["cpu_us"]
                figures["bare_ratio"] = bare_ratio(figures, bare)
                print(scenario_row(f"{workload}/{name}", figures), flush=True)
                results.append({"workload": workload, "scenario": name, **figures})
    finally:
        stand.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="message,mix")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--events", type=int, default=100_000, help="events of each workload")
    parser.add_argument("--hours", type=int, default=24, help="archive hours served (at most 24)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario")
    parser.add_argument("--bare-runs", type=int, default=3, help="runs of the bare loop per workload")
    parser.add_argument("--floor-runs", type=int, default=3, help="runs of the floor loop per workload")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--input-option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an input option not at its default (e.g. original_event=raw); repeatable",
    )
    parser.add_argument(
        "--profile", help="a py-spy profile (raw, collapsed stacks) per scenario into this folder"
    )
    args = parser.parse_args()
    os.environ["POD_API_KEY"] = TOKEN
    print(f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as folder:
        results = [r for w in args.workloads.split(",") for r in run_workload(args, w, Path(folder))]
    print(table(results), flush=True)
    if args.json:
        Path(args.json).write_text(
            json.dumps({"date": time.strftime("%Y-%m-%d"), "results": results}, indent=2)
        )


if __name__ == "__main__":
    main()
