"""podship against the simulator on loopback, scenario by scenario, beside a bare receive loop.

For each workload a simulator process serves archive hours of message, maillog and audit events
(every 2,000th message over 1 MiB), its frame cache warmed first so that the simulator is not what
is measured. The baseline, measured in the same run over the same frames, is a bare websockets
loop that receives every frame and decodes nothing: the ceiling of this machine. Each scenario
then runs the real `podship run` process and reports events/s, CPU seconds per 100k events, peak
RSS and the time from start to the first record.

    python tests/benchmarks/harness.py                      # 100k events, all scenarios
    python tests/benchmarks/harness.py --million            # and stdout with 1M events (RSS flat?)
    python tests/benchmarks/harness.py --json results.json --profile /tmp/prof   # py-spy per scenario
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgpack
import yaml
from websockets.asyncio.client import connect

from podship.core.pod import HOUR_MS, stream_url
from podship.devtools.simgen import DEFAULT_RATES, Timeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.benchmarks.rules import mixed
from tests.rsyslog import Rsyslog

TOKEN = "bench-token"
KINDS = ("message", "maillog", "audit")
PER_HOUR = sum(DEFAULT_RATES.values()) * 3600  # events an hour at rate 1
BUSY_PER_HOUR = 2_000_000  # the tenant the backfill projection is for: two million events an hour
CLK_TCK = os.sysconf("SC_CLK_TCK")
RSS_MILESTONES = (100_000, 250_000, 500_000, 750_000)  # records out at which resident memory is read


@dataclass
class Workload:
    """`hours` archive hours at `rate` times the default rates, served by one simulator."""

    name: str
    hours: int
    events: int
    port: int
    process: subprocess.Popen[bytes] | None = None
    frames: int = 0
    bare_secs: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / (self.hours * PER_HOUR)

    def start(self) -> Workload:
        command = [sys.executable, "-m", "podship", "simulate", "--port", str(self.port)]
        command += ["--rate", f"{self.rate:.6f}", "--start-hours", str(self.hours + 0.7)]
        command += ["--frame-cache", str(int(self.events * 1.2)), "--big-every", "2000", "--release", "0"]
        env = {**os.environ, "PODSHIP_SIM_TOKEN": TOKEN}
        self.process = subprocess.Popen(command, env=env, stderr=subprocess.PIPE)
        assert self.process.stderr is not None
        self.process.stderr.readline()  # "serving ..." once it listens
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait()

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/stream"

    def baseline(self) -> None:
        """Warm the frame cache, then time the bare loop over the same hours."""
        asyncio.run(bare_loop(self.base, self.hours))
        self.frames, self.bare_secs = asyncio.run(bare_loop(self.base, self.hours))


async def bare_receive(url: str) -> int:
    count = 0
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_size=None, proxy=None
    ) as ws:
        async for _ in ws:
            count += 1
    return count


async def bare_loop(base: str, hours: int) -> tuple[int, float]:
    """Every archive hour of every type, one connection per type at a time, as podship reads them."""
    epoch = Timeline().epoch_ms

    async def one_type(kind: str) -> int:
        urls = [
            stream_url(base, "acme_hosted", kind, epoch + h * HOUR_MS, epoch + (h + 1) * HOUR_MS)
            for h in range(hours)
        ]
        return sum([await bare_receive(url) for url in urls])

    started = time.perf_counter()
    counts = await asyncio.gather(*(one_type(kind) for kind in KINDS))
    return sum(counts), time.perf_counter() - started


@dataclass
class Result:
    scenario: str
    workload: str
    events: int
    seconds: float
    startup: float
    cpu_secs: float
    peak_rss_kib: int
    bare_secs: float
    extra: dict[str, Any] = field(default_factory=dict)

    def figures(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "workload": self.workload,
            "events": self.events,
            "events_per_sec": round(self.events / self.seconds),
            "bare_events_per_sec": round(self.events / self.bare_secs) if self.bare_secs else None,
            "ratio_to_bare": round(self.bare_secs / self.seconds, 3) if self.bare_secs else None,
            "cpu_secs_per_100k": round(self.cpu_secs * 100_000 / self.events, 2),
            "peak_rss_mib": round(self.peak_rss_kib / 1024, 1),
            "startup_to_first_record_secs": round(self.startup, 3),
            **self.extra,
        }


def pipeline_file(
    folder: Path,
    url: str,
    kinds: Iterable[str],
    backfill: str,
    *,
    output: dict[str, Any],
    filters: list[Any],
    chosen: dict[str, str] | None = None,
) -> Path:
    """The pipeline file of one benchmark run: every option but `backfill` (and the input options
    `chosen` names) at its default."""

    def connector(kind: str) -> dict[str, Any]:
        return {
            "name": "proofpoint_pod",
            "cluster_id": "acme_hosted",
            "api_key": "${POD_API_KEY}",
            "type": kind,
            "tenant": "bench",
            "url": url,
            "backfill": backfill,
            **(chosen or {}),
        }

    document = {
        "service": {"state_dir": str(folder / "state"), "log_level": "warning"},
        "pipeline": {"inputs": [connector(kind) for kind in kinds], "filters": filters, "outputs": [output]},
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "podship.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


class Run:
    """One `podship run` process: counts its records (from stdout or a receiver) and samples it."""

    def __init__(self, config: Path, profile: Path | None, stdout: bool) -> None:
        self.started = time.perf_counter()
        command = [sys.executable, "-m", "podship", "run", "-c", str(config)]
        env = {**os.environ, "POD_API_KEY": TOKEN}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE if stdout else subprocess.DEVNULL, env=env
        )
        self.profiler = _profiler(self.process.pid, profile) if profile else None
        self.first = 0.0
        self.rss_mib: dict[int, int] = {}  # records out -> resident MiB then

    def stdout_counter(self) -> Callable[[], int]:
        """Reads podship's stdout in a thread; returns how many lines it has seen."""
        seen = [0]
        stream = self.process.stdout
        assert stream is not None

        def pump() -> None:
            while chunk := stream.read1(1 << 20):
                seen[0] += chunk.count(b"\n")

        threading.Thread(target=pump, daemon=True).start()
        return lambda: seen[0]

    def until(self, received: Callable[[], int], expected: int) -> tuple[float, float, float, int]:
        """Seconds first-to-last record, start-up seconds, CPU seconds, peak RSS KiB; then SIGTERM."""
        progress = (0, time.monotonic())
        milestones = [n for n in RSS_MILESTONES if n < expected] + [expected]
        while (count := received()) < expected:
            while count >= milestones[0]:
                self.rss_mib[milestones.pop(0)] = round(_rss_kib(self.process.pid) / 1024)
            if self.process.poll() is not None:
                raise RuntimeError(f"podship ended after {count} of {expected} records")
            if count > progress[0]:
                progress = (count, time.monotonic())
            elif time.monotonic() - progress[1] > 60:
                self.process.kill()
                raise RuntimeError(f"no record for a minute after {count} of {expected}")
            if count and not self.first:
                self.first = time.perf_counter()
            time.sleep(0.005)
        finished = time.perf_counter()
        self.rss_mib[expected] = round(_rss_kib(self.process.pid) / 1024)
        cpu, peak = _cpu_secs(self.process.pid), _peak_rss_kib(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        if self.profiler is not None:
            self.profiler.wait(timeout=60)
        return finished - self.first, self.first - self.started, cpu, peak


def _profiler(pid: int, out: Path) -> subprocess.Popen[bytes] | None:
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        print("py-spy is not installed (pip install py-spy); no profile", file=sys.stderr)
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    command = [spy, "record", "--pid", str(pid), "--rate", "200", "--format", "raw", "--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _cpu_secs(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime and stime


def _peak_rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmHWM:")


def _rss_kib(pid: int) -> int:
    return _status_kib(pid, "VmRSS:")


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1])
    return 0


class CountingReceiver:
    """A Forward receiver that acks every chunk and counts its entries, skipping their contents,
    so that the receiver costs the shared CPU little (tests/forward_peer.py decodes everything)."""

    def __init__(self) -> None:
        self.count, self.port = 0, 0

    async def start(self) -> CountingReceiver:
        server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        return self

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        messages = msgpack.Unpacker(max_buffer_size=256 << 20)
        while data := await reader.read(1 << 20):
            messages.feed(data)
            for _tag, body, options in messages:
                self.count += _entries(gzip.decompress(body) if options.get("compressed") else body)
                writer.write(msgpack.packb({"ack": options["chunk"]}))


def _entries(body: bytes) -> int:
    entries, count = msgpack.Unpacker(max_buffer_size=len(body) + 1), 0
    entries.feed(body)
    with contextlib.suppress(msgpack.OutOfData):
        while True:
            entries.skip()
            count += 1
    return count


def forward_receiver() -> CountingReceiver:
    """The receiver in its own thread and event loop."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return asyncio.run_coroutine_threadsafe(CountingReceiver().start(), loop).result()


def lines_in(path: Path) -> Callable[[], int]:
    """Lines written to `path` so far, read incrementally (rereading it all would cost more CPU than
    the receiver)."""
    seen, offset = [0], [0]

    def count() -> int:
        if path.exists():
            with path.open("rb") as stream:
                stream.seek(offset[0])
                data = stream.read()
            offset[0] += len(data)
            seen[0] += data.count(b"\n")
        return seen[0]

    return count


class Bench:
    def __init__(self, folder: Path, profile: Path | None) -> None:
        self.folder, self.profile = folder, profile
        self.results: list[Result] = []

    def scenario(
        self, name: str, workload: Workload, output: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        folder = self.folder / f"{workload.name}-{name}"
        backfill = f"{workload.hours * 60 + 40}m"
        config = pipeline_file(
            folder,
            workload.base,
            KINDS,
            backfill,
            output=output or {"name": "stdout"},
            filters=kw.get("filters", []),
        )
        run = Run(
            config, self.profile / f"{workload.name}-{name}.raw" if self.profile else None, output is None
        )
        counter = run.stdout_counter() if output is None else kw["received"]
        seconds, startup, cpu, peak = run.until(counter, workload.frames)
        result = Result(name, workload.name, workload.frames, seconds, startup, cpu, peak, workload.bare_secs)
        result.extra["rss_mib_at_records"] = run.rss_mib
        self.results.append(result)
        print(_row(result.figures()), flush=True)

    def forward(self, workload: Workload) -> None:
        peer = forward_receiver()
        self.scenario(
            "forward_acks",
            workload,
            {"name": "forward", "port": peer.port},
            received=lambda: peer.count,
        )

    def syslog(self, workload: Workload) -> None:
        rsyslog = Rsyslog(self.folder / f"rsyslog-{workload.name}", max_message="512k").start()
        try:
            output = {"name": "syslog", "mode": "tcp", "port": rsyslog.tcp, "max_message_bytes": "256KiB"}
            counter = lines_in(self.folder / f"rsyslog-{workload.name}" / "out.jsonl")
            self.scenario("syslog_tcp", workload, output, received=counter)
        finally:
            rsyslog.stop()

    def filtered(self, workload: Workload) -> None:
        rules = self.folder / "rules20.yaml"
        rules.write_text(yaml.safe_dump({"rules": [mixed(i) for i in range(20)]}))
        self.scenario("stdout_20_rules", workload, filters=[{"name": "log_filter", "rules_file": str(rules)}])


def _row(figures: dict[str, Any]) -> str:
    return (
        f"{figures['workload'] + '/' + figures['scenario']:<28} {figures['events']:>9,} events "
        f"{figures['events_per_sec']:>7,}/s  ({figures['ratio_to_bare']:.2f} of bare "
        f"{figures['bare_events_per_sec']:,}/s)  CPU {figures['cpu_secs_per_100k']:>6.1f} s/100k  "
        f"RSS {figures['peak_rss_mib']:>5.0f} MiB  first record {figures['startup_to_first_record_secs']:.2f} s"
        + _milestones(figures["rss_mib_at_records"])
    )


def _milestones(rss: dict[int, int]) -> str:
    """`; RSS at 100k 61, 250k 62, ... MiB` for runs long enough to show whether memory stays flat."""
    if len(rss) < 3:
        return ""
    return "; RSS at " + ", ".join(f"{n // 1000}k {mib}" for n, mib in sorted(rss.items())) + " MiB"


def run_workload(bench: Bench, workload: Workload, scenarios: Callable[[Workload], None]) -> None:
    workload.start()
    try:
        workload.baseline()
        print(
            f"-- {workload.name}: {workload.frames:,} events over {workload.hours} archive hours; "
            f"bare websockets loop {workload.frames / workload.bare_secs:,.0f} events/s",
            flush=True,
        )
        scenarios(workload)
    finally:
        workload.stop()


def projection(result: Result) -> dict[str, Any]:
    """The full 7-day backfill of a busy tenant at the measured rate."""
    total = 7 * 24 * BUSY_PER_HOUR
    hours = total / (result.events / result.seconds) / 3600
    return {
        "busy_tenant_events_per_hour": BUSY_PER_HOUR,
        "seven_day_events": total,
        "projected_hours": round(hours, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events of the main workload")
    parser.add_argument("--million", action="store_true", help="also stdout with 1,000,000 events")
    parser.add_argument("--scenarios", default="stdout,forward,syslog,filter,backfill")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--profile", type=Path, help="write a py-spy profile of each scenario here")
    args = parser.parse_args()
    chosen = set(args.scenarios.split(","))
    with tempfile.TemporaryDirectory() as folder:
        bench = Bench(Path(folder), args.profile)

        def main_scenarios(workload: Workload) -> None:
            for name, action in (
                ("stdout", lambda w: bench.scenario("stdout", w)),
                ("forward", bench.forward),
                ("syslog", bench.syslog),
                ("filter", bench.filtered),
            ):
                if name in chosen:
                    action(workload)

        run_workload(bench, Workload("main", 4, args.events, args.port), main_scenarios)
        if "backfill" in chosen:
            backfill = Workload("backfill", 24, args.events, args.port + 1)
            run_workload(bench, backfill, lambda w: bench.scenario("stdout", w))
            bench.results[-1].extra = projection(bench.results[-1])
            print(
                f"   7-day backfill of a {BUSY_PER_HOUR:,} events/hour tenant: about {bench.results[-1].extra['projected_hours']} hours at this rate"
            )
        if args.million:
            run_workload(
                bench, Workload("million", 8, 1_000_000, args.port + 2), lambda w: bench.scenario("stdout", w)
            )
    report = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "results": [result.figures() for result in bench.results],
    }
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
