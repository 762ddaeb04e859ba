"""Outputs that stop taking records: a stdout reader that stops reading, a Forward receiver that is
gone or withholds acks, an rsyslog that is stopped and started again. podship holds the pipeline
back (backpressure reaches the WebSocket), keeps memory bounded, and loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

from podship.core.pod import HOUR_MS, floor_hour
from tests.forward_peer import ForwardPeer
from tests.reliability.common import (
    ARCHIVE_DELAY,
    BATCH,
    KEY,
    Ledger,
    Podship,
    expected,
    reap,
    scaled,
    timeline,
    wait_for,
)
from tests.rsyslog import Rsyslog

RSS_BOUND_MIB = 200
IN_SOCKET_BUFFERS = (
    2500  # records of ~2.5 KB in loopback socket buffers of a few MB (measured: 520-1,325 a stop)
)


async def test_a_stalled_stdout_reader_holds_a_seven_day_backfill_in_bounded_memory(simulator, tmp_path):
    line = timeline(seed=71, rate=8.0)  # 43,000 events an hour: 7.3 million in the seven days
    sim = await simulator(
        timeline=line, start_ms=line.epoch_ms + 7 * 24 * HOUR_MS, tokens={KEY: "acme_hosted"}
    )
    podship = Podship(tmp_path, sim)
    podship.config.write_text(podship.config.read_text().replace("backfill: 2h", "backfill: 7d"))
    await podship.start(stdout=asyncio.subprocess.PIPE)
    reader, ledger, peak = podship.process.stdout, Ledger(), 0.0
    for _ in range(scaled(2, 6)):
        await _read_lines(reader, ledger, 3000)
        for _ in range(10):  # the reader stalls: the pipe fills, podship blocks writing
            await asyncio.sleep(0.5)
            peak = max(peak, podship.rss_mib())
    await _read_lines(reader, ledger, 3000)  # and it resumes
    await reap(podship.process)  # a reader that stopped: asyncio needs the pipe drained (see reap)
    print(f"[stalled stdout] peak RSS {peak:.0f} MiB over a stalled 7-day backfill; {len(ledger.ids)} read")
    assert 0 < peak < RSS_BOUND_MIB
    assert not ledger.torn and not [n for n in ledger.ids.values() if n > 1]


async def _read_lines(reader, ledger, count):
    deadline = time.monotonic() + 60  # one deadline for all the lines: a slow trickle fails too
    for _ in range(count):
        line = await asyncio.wait_for(reader.readline(), max(0.1, deadline - time.monotonic()))
        try:
            ledger.add(json.loads(line))
        except ValueError:
            ledger.torn += 1


async def test_a_forward_receiver_that_goes_away_and_withholds_acks(simulator, tmp_path):
    line = timeline(seed=81)
    start = line.epoch_ms + 4 * HOUR_MS
    sim = await simulator(timeline=line, start_ms=start, release_secs=0.05, tokens={KEY: "acme_hosted"})
    first = await ForwardPeer(withhold=1).start()
    output = {"name": "forward", "port": first.port}  # shipped defaults: a withheld ack costs 30 s
    podship = Podship(tmp_path, sim, outputs=[output])
    await podship.start()
    peers = [first]
    for _ in range(scaled(2, 6)):
        await wait_for(lambda: len(peers[-1].records) > 2000, 60, "records at the receiver")
        peers[-1].cut = 10**9  # every connection it still has is cut, and new ones are refused
        await peers[-1].stop()
        await asyncio.sleep(2)
        peer = ForwardPeer(withhold=1)
        peer.wanted_port = first.port
        peers.append(await peer.start())
    covered = expected(line, start - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    ledger = Ledger()

    def arrived():
        ledger.ids.clear()
        for peer in peers:
            for _, _, record in peer.records:
                ledger.add(record)
        return covered <= set(ledger.ids)

    await wait_for(arrived, 300, "everything at the receivers")
    assert await podship.terminate() == 0
    arrived()
    await peers[-1].stop()
    resent = sum(n - 1 for peer in peers for n in peer.chunks.values())
    missing, twice = ledger.verdict("forward down", covered, resent_chunks=resent, outages=len(peers) - 1)
    assert not missing
    assert sum(n - 1 for n in twice.values()) <= resent * BATCH, "copies only from chunks sent again"


async def test_rsyslog_stopped_and_started_again(simulator, tmp_path):
    line = timeline(seed=91, rate=4.0)  # enough backfill for every stall and restart to land in it
    start = line.epoch_ms + 4 * HOUR_MS
    sim = await simulator(timeline=line, start_ms=start, release_secs=0.05, tokens={KEY: "acme_hosted"})
    rsyslog = Rsyslog(tmp_path / "rsyslog-0").start()
    servers = [rsyslog]
    output = {"name": "syslog", "mode": "tcp", "port": rsyslog.tcp}
    podship = Podship(tmp_path, sim, outputs=[output])
    await podship.start()
    for _ in range(scaled(2, 6)):  # rsyslog stalls: its window fills and podship blocks
        await wait_for(lambda: _count(rsyslog) > 1000 * len(servers), 60, "messages at rsyslog")
        rsyslog.process.send_signal(signal.SIGSTOP)
        await asyncio.sleep(3)
        rsyslog.process.send_signal(signal.SIGCONT)
    for n in range(scaled(2, 6)):  # then it is stopped, and started again on the same port
        await wait_for(lambda: _count(servers[-1]) > 1000, 60, "messages at rsyslog")
        servers[-1].stop()
        await asyncio.sleep(2)
        servers.append(Rsyslog(tmp_path / f"rsyslog-{n + 1}", tcp_port=rsyslog.tcp).start())
    covered = expected(line, start - 2 * HOUR_MS, floor_hour(sim.clock.now() - ARCHIVE_DELAY))
    ledger = Ledger()

    def arrived():
        ledger.ids.clear()
        for server in servers:
            for message in _messages(server):
                ledger.add(json.loads(message["msg"]))
        return covered <= set(ledger.ids)

    # Early archive windows come first, so arrival order proves nothing: wait until everything
    # arrived, or until no more of it has come for 10 s (what was lost in the buffers never will;
    # live events keep coming, so only the covered ones count).
    quiet = {"count": -1, "since": time.monotonic()}

    def settled():
        if arrived():
            return True
        count = len(covered & set(ledger.ids))
        if count != quiet["count"]:
            quiet.update(count=count, since=time.monotonic())
        return time.monotonic() - quiet["since"] > 10

    await wait_for(settled, 180, "rsyslog to take the rest")
    assert await podship.terminate() == 0
    servers[-1].stop()
    arrived()
    missing, twice = ledger.verdict("rsyslog down", covered, restarts=len(servers) - 1)
    # Syslog over TCP has no acknowledgement: what sat in the socket buffers when rsyslog was
    # stopped is gone, and podship cannot know (README: "Which output loses what"). Stalls lose
    # nothing; each stop loses at most what the buffers hold.
    assert len(missing) <= (len(servers) - 1) * IN_SOCKET_BUFFERS, f"{len(missing)} lost"
    assert sum(n - 1 for n in twice.values()) <= (len(servers) - 1) * BATCH, "only batches sent again"


def _messages(server):
    path = server.dir / "out.jsonl"
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines()]


def _count(server):
    path = server.dir / "out.jsonl"
    return path.read_bytes().count(b"\n") if path.exists() else 0
