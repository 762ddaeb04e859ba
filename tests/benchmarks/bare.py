"""The ceiling: a bare websockets client that receives every frame of the archive and decodes nothing.

With `--floor`, the floor instead: the same client parses each frame with orjson and re-encodes it
(`orjson.dumps` + newline) into /dev/null through a 64 KiB buffer, the least any transformation of
the events must pay.

One connection per type at once, each fetching the window `[since, to)` as podship's connectors do
(podship fetches up to 24 archive hours in one window). It prints one JSON line: frames, seconds
from the first frame to the last, CPU seconds over that span (utime + stime from /proc) and peak
RSS. Run in its own process so that its CPU is its own:

    python tests/benchmarks/bare.py ws://127.0.0.1:PORT/v1/stream SINCE_MS TO_MS message maillog
    python tests/benchmarks/bare.py --floor ws://127.0.0.1:PORT/v1/stream SINCE_MS TO_MS message
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

import orjson
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK

from podship.core.pod import stream_url

TOKEN = "bench-token"
CLUSTER = "acme_hosted"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_secs(pid: int | str = "self") -> float:
    """utime + stime of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_kib(pid: int | str = "self") -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


class Clock:
    """When the first frame of any connection arrived, and the CPU used until then."""

    def __init__(self) -> None:
        self.first = 0.0
        self.cpu = 0.0

    def tick(self) -> None:
        if not self.first:
            self.first, self.cpu = time.perf_counter(), cpu_secs()


async def receive(url: str, clock: Clock, sink: BinaryIO | None) -> int:
    """Every frame of one window; into `sink`, parsed and re-encoded as a line (the floor), if given."""
    count = 0
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with connect(url, additional_headers=headers, max_size=None, compression=None, proxy=None) as ws:
        try:
            while True:
                data = await ws.recv(decode=False)
                clock.tick()
                if sink is not None:
                    sink.write(orjson.dumps(orjson.loads(data)) + b"\n")
                count += 1
        except ConnectionClosedOK:
            return count


async def bare(base: str, since: int, to: int, kinds: list[str], floor: bool = False) -> dict[str, float]:
    clock = Clock()
    urls = [stream_url(base, CLUSTER, kind, since, to) for kind in kinds]
    with open(os.devnull, "wb", buffering=1 << 16) as null:
        sink = null if floor else None
        counts = await asyncio.gather(*(receive(url, clock, sink) for url in urls))
    seconds, cpu = time.perf_counter() - clock.first, cpu_secs() - clock.cpu
    return {"frames": sum(counts), "seconds": seconds, "cpu_secs": cpu, "peak_rss_kib": peak_rss_kib()}


def main() -> None:
    args = sys.argv[1:]
    floor = "--floor" in args
    base, since, to, *kinds = [arg for arg in args if arg != "--floor"]
    print(json.dumps(asyncio.run(bare(base, int(since), int(to), kinds, floor))), flush=True)


if __name__ == "__main__":
    main()
