"""Throughput of `podship run` against the simulator, beside a bare websockets receive loop.

Both read the same archive frames from one simulator process (its frame cache warmed first, so that
the simulator is not what is measured), in one run, on this machine: the bare loop is the ceiling.

    python tests/benchmarks/throughput.py [--rate 2] [--json results.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import yaml
from websockets.asyncio.client import connect

from podship.core.pod import HOUR_MS, stream_url
from podship.simgen import DEFAULT_RATES, Timeline

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.forward_peer import ForwardPeer
from tests.rsyslog import Rsyslog

TOKEN = "bench-token"
KINDS = ("message", "maillog")


def start_simulator(port: int, rate: float) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "podship", "simulate", "--port", str(port), "--rate", str(rate)]
    command += ["--start-hours", "2", "--frame-cache", "2000000"]
    process = subprocess.Popen(
        command, env={**os.environ, "PODSHIP_SIM_TOKEN": TOKEN}, stderr=subprocess.PIPE
    )
    assert process.stderr is not None
    process.stderr.readline()  # "serving ..." once it listens
    return process


async def bare_receive(url: str) -> int:
    """The ceiling: receive every frame of one archive hour, decode nothing."""
    count = 0
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {TOKEN}"}, max_size=None, proxy=None
    ) as ws:
        async for _ in ws:
            count += 1
    return count


async def bare_loop(base: str, epoch: int) -> tuple[int, float]:
    urls = [stream_url(base, "acme_hosted", kind, epoch, epoch + HOUR_MS) for kind in KINDS]
    started = time.perf_counter()
    counts = await asyncio.gather(*(bare_receive(url) for url in urls))
    return sum(counts), time.perf_counter() - started


def podship_config(folder: Path, base: str, output: dict[str, object] | None = None) -> Path:
    def connector(kind: str) -> dict[str, object]:
        return {
            "name": "proofpoint_pod",
            "cluster_id": "acme_hosted",
            "api_key": "${POD_API_KEY}",
            "type": kind,
            "tenant": "bench",
            "url": base,
            "backfill": "2h",
            "archive_delay": "35m",
        }

    document = {
        "service": {"state_dir": str(folder / "state"), "log_level": "warning"},
        "pipeline": {
            "inputs": [connector(kind) for kind in KINDS],
            "outputs": [output or {"name": "stdout"}],
        },
    }
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "podship.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def podship_run(config: Path, expected: int) -> tuple[float, float, int]:
    """Seconds from the first record to the last, seconds from start, and peak RSS in KiB."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "podship", "run", "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env={**os.environ, "POD_API_KEY": TOKEN})
    assert process.stdout is not None
    seen, first = 0, 0.0
    while seen < expected:
        chunk = process.stdout.read1(1 << 20)
        if not chunk:
            raise RuntimeError(f"podship ended after {seen} of {expected} records")
        first = first or time.perf_counter()
        seen += chunk.count(b"\n")
    finished = time.perf_counter()
    peak = _peak_rss_kib(process.pid)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    return finished - first, finished - started, peak


def podship_into(config: Path, received: Callable[[], int], expected: int) -> tuple[float, float, int]:
    """The same, for an output whose receiver we can ask how many records it has."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "podship", "run", "-c", str(config)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, env={**os.environ, "POD_API_KEY": TOKEN})
    first = 0.0
    while (count := received()) < expected:
        if process.poll() is not None:
            raise RuntimeError(f"podship ended after {count} of {expected} records")
        first = first or (time.perf_counter() if count else 0.0)
        time.sleep(0.02)
    finished = time.perf_counter()
    peak = _peak_rss_kib(process.pid)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    return finished - (first or started), finished - started, peak


def forward_receiver() -> ForwardPeer:
    """A Forward receiver with acks, in its own thread and event loop."""
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    return asyncio.run_coroutine_threadsafe(ForwardPeer().start(), loop).result()


def lines_in(path: Path) -> Callable[[], int]:
    def count() -> int:
        return path.read_bytes().count(b"\n") if path.exists() else 0

    return count


def _peak_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) if match else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=2.0, help="multiplier of the simulator's default rates")
    parser.add_argument("--port", type=int, default=18765)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--outputs", default="stdout,forward,syslog", help="which outputs to measure beside stdout"
    )
    args = parser.parse_args()
    epoch = Timeline().epoch_ms
    expected = sum(int(DEFAULT_RATES[kind] * args.rate * 3600) for kind in KINDS)
    sim = start_simulator(args.port, args.rate)
    base = f"ws://127.0.0.1:{args.port}/v1/stream"
    try:
        asyncio.run(bare_loop(base, epoch))  # warm the simulator's frame cache
        time.sleep(0.5)  # the simulator releases a session a moment after it ends (409 until then)
        frames, bare_secs = asyncio.run(bare_loop(base, epoch))
        time.sleep(0.5)
        runs = {}
        with tempfile.TemporaryDirectory() as folder:
            runs["stdout"] = podship_run(podship_config(Path(folder) / "stdout", base), frames)
            if "forward" in args.outputs:
                peer = forward_receiver()
                output = {"name": "forward", "port": peer.port}
                runs["forward"] = podship_into(
                    podship_config(Path(folder) / "fwd", base, output), lambda: len(peer.records), frames
                )
            if "syslog" in args.outputs:
                rsyslog = Rsyslog(Path(folder) / "rsyslog").start()
                output = {"name": "syslog", "mode": "tcp", "port": rsyslog.tcp}
                counter = lines_in(Path(folder) / "rsyslog" / "out.jsonl")
                runs["syslog_tcp"] = podship_into(
                    podship_config(Path(folder) / "sys", base, output), counter, frames
                )
                rsyslog.stop()
    finally:
        sim.terminate()
        sim.wait()
    steady, total, rss = runs["stdout"]
    figures = {
        "date": time.strftime("%Y-%m-%d"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "events": frames,
        "expected_about": expected,
        "bare_events_per_sec": round(frames / bare_secs),
        "podship_events_per_sec": round(frames / steady),
        "podship_events_per_sec_from_start": round(frames / total),
        "ratio": round(bare_secs / steady, 3),
        "podship_peak_rss_mib": round(rss / 1024, 1),
    }
    print(
        f"events {frames}: bare websockets loop {figures['bare_events_per_sec']}/s; podship run {figures['podship_events_per_sec']}/s "
        f"({figures['podship_events_per_sec_from_start']}/s counting start-up); ratio {figures['ratio']}; podship peak RSS {figures['podship_peak_rss_mib']} MiB"
    )
    for name, (seconds, _, peak) in runs.items():
        figures[f"{name}_events_per_sec"] = round(frames / seconds)
        figures[f"{name}_ratio_to_bare"] = round(bare_secs / seconds, 3)
        figures[f"{name}_peak_rss_mib"] = round(peak / 1024, 1)
        print(
            f"  {name:<11} {frames / seconds:>8,.0f} events/s  ({bare_secs / seconds:.2f} of the bare loop), peak RSS {peak / 1024:.0f} MiB"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
