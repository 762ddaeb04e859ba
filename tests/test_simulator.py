"""The simulator answers as pod-log-api.md says the PoD Log API does."""

import asyncio
import json
import time
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from podship.core.pod import HOUR_MS, format_ts
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults

AUTH = {"Authorization": "Bearer sim-token"}
LINE = Timeline(rates={"message": 5.0, "maillog": 20.0, "audit": 1.0})


async def status_of(url, headers=AUTH):
    try:
        async with connect(url, additional_headers=headers, proxy=None):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


async def test_handshake_statuses(simulator):
    sim = await simulator(timeline=LINE)
    base = sim.url
    now = sim.clock.now()
    assert await status_of(f"{base}?cid=acme_hosted&type=message") == 101
    await asyncio.sleep(0.3)  # the session is released a moment after it ends
    assert await status_of(base.replace("/v1/stream", "/v2/stream") + "?cid=acme_hosted&type=message") == 404
    assert await status_of(f"{base}?cid=acme_hosted&type=message", {"Authorization": "Bearer wrong"}) == 401
    assert await status_of(f"{base}?cid=acme_hosted&type=message", {}) == 401
    assert await status_of(f"{base}?cid=other_cluster&type=message") == 401
    assert await status_of(f"{base}?cid=acme_hosted") == 400
    assert await status_of(f"{base}?cid=&type=message") == 400
    assert await status_of(f"{base}?cid=acme_hosted&type=sms") == 400
    assert await status_of(f"{base}?cid=acme_hosted&type=message&sinceTime=yesterday") == 400
    too_old = format_ts(now - 31 * 24 * HOUR_MS).replace("+", "%2B")
    assert await status_of(f"{base}?cid=acme_hosted&type=message&sinceTime={too_old}") == 400


async def test_a_non_get_request_gets_405(simulator):
    sim = await simulator(timeline=LINE)
    url = urlsplit(sim.url)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    writer.write(
        b"POST /v1/stream?cid=acme_hosted&type=message HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer sim-token\r\n\r\n"
    )
    status_line = await reader.readline()
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 405")


async def test_one_session_per_token_and_type(simulator):
    sim = await simulator(timeline=LINE)
    async with connect(f"{sim.url}?cid=acme_hosted&type=message", additional_headers=AUTH, proxy=None):
        assert await status_of(f"{sim.url}?cid=acme_hosted&type=message") == 409
        archive = (
            f"{sim.url}?cid=acme_hosted&type=message&sinceTime={format_ts(sim.clock.now() - 3 * HOUR_MS)}"
        )
        assert await status_of(archive.replace("+", "%2B")) == 409
        assert await status_of(f"{sim.url}?cid=acme_hosted&type=maillog") == 101


async def test_the_archive_sends_the_rounded_window_then_closes_normally(simulator):
    sim = await simulator(timeline=LINE)
    hour = LINE.epoch_ms
    since, to = format_ts(hour + 17 * 60_000), format_ts(hour + 50 * 60_000)
    url = f"{sim.url}?cid=acme_hosted&type=audit&sinceTime={since}&toTime={to}".replace("+", "%2B")
    received = []
    async with connect(url, additional_headers=AUTH, proxy=None) as ws:
        async for frame in ws:
            received.append(json.loads(frame)["guid"])
    assert ws.close_code == 1000
    assert received == list(LINE.ids("audit", hour, hour + HOUR_MS))
    assert len(received) > 3000


async def test_the_archive_lags_the_present(simulator):
    sim = await simulator(timeline=LINE, start_ms=LINE.epoch_ms + 40 * 60_000)
    url = f"{sim.url}?cid=acme_hosted&type=audit&sinceTime={format_ts(LINE.epoch_ms)}&toTime={format_ts(LINE.epoch_ms + HOUR_MS)}"
    async with connect(url.replace("+", "%2B"), additional_headers=AUTH, proxy=None) as ws:
        times = [json.loads(frame)["ts"] async for frame in ws]
    expected = list(LINE.ids("audit", LINE.epoch_ms, LINE.epoch_ms + 10 * 60_000 - LINE.jitter_ms))
    assert len(times) >= len(expected)
    assert len(times) <= len(list(LINE.ids("audit", LINE.epoch_ms, LINE.epoch_ms + 10 * 60_000)))


async def receive(ws, count):
    return [json.loads(await ws.recv())["guid"] for _ in range(count)]


async def released(sim, kind="message"):
    """Wait until the server has ended the session (it may still be flushing a burst)."""
    for _ in range(200):
        if not sim.sessions[("sim-token", kind)].active:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the simulator never released the session")


def positions(sim, back_ms, ahead_ms):
    now = sim.clock.now()
    span = range(LINE.index("message", now - back_ms), LINE.index("message", now + ahead_ms))
    return {LINE.event_id("message", k): k for k in span}


async def test_live_resumes_where_it_dropped_within_an_hour_and_gives_the_last_hour_after(simulator):
    sim = await simulator(timeline=LINE, release_secs=0.0)
    url = f"{sim.url}?cid=acme_hosted&type=message"
    index = positions(sim, 60_000, 15 * 60_000)
    async with connect(url, additional_headers=AUTH, proxy=None) as ws:
        first = await receive(ws, 3)
    await released(sim)
    sent = sim.sessions[("sim-token", "message")].resume_k
    sim.clock.advance(10 * 60_000)
    async with connect(url, additional_headers=AUTH, proxy=None) as ws:
        resumed = await receive(ws, 3)
    await released(sim)
    assert [index[i] for i in first] == [index[first[0]] + n for n in range(3)]
    assert index[resumed[0]] == sent  # what the server sent before the close counts as delivered
    sim.clock.advance(2 * HOUR_MS)
    after = positions(sim, HOUR_MS + 60_000, 0)
    before = sim.clock.now()
    async with connect(url, additional_headers=AUTH, proxy=None) as ws:
        opened = sim.clock.now()
        after_gap = await receive(ws, 1)
    assert (
        LINE.index("message", before - HOUR_MS)
        <= after[after_gap[0]]
        <= LINE.index("message", opened - HOUR_MS)
    )


async def test_drops_lose_the_frames_in_flight_and_refusals_come_first(simulator):
    faults = Faults(drop_every=5, drop_lose=3, refuse_count=2, refuse_status=429, binary_every=0)
    sim = await simulator(timeline=LINE, faults=faults, release_secs=0.0)
    url = f"{sim.url}?cid=acme_hosted&type=message"
    assert await status_of(url) == 429
    assert await status_of(url) == 429
    sim.clock.advance(60_000)
    got = []
    with pytest.raises(ConnectionClosedError):
        async with connect(url, additional_headers=AUTH, proxy=None) as ws:
            while True:
                got.append(json.loads(await ws.recv())["guid"])
    assert len(got) == 4
    async with connect(url, additional_headers=AUTH, proxy=None) as ws:
        after = json.loads(await ws.recv())["guid"]
    position = positions(sim, 2 * 60_000, 0)
    assert position[after] - position[got[-1]] == 1 + 3  # three frames lost: the one due and two in flight


async def test_junk_frames_are_sent_on_demand(simulator):
    sim = await simulator(timeline=LINE, faults=Faults(bad_every=2, binary_every=3), release_secs=0.0)
    sim.clock.advance(60_000)
    async with connect(f"{sim.url}?cid=acme_hosted&type=message", additional_headers=AUTH, proxy=None) as ws:
        frames = [await ws.recv() for _ in range(18)]
    assert any(isinstance(frame, bytes) and frame.startswith(b"{") for frame in frames)
    assert "" in frames
    assert '{"guid": "broken' in frames


async def test_idle_connections_are_dropped(simulator):
    sim = await simulator(
        timeline=Timeline(rates={"message": 0.001, "maillog": 1, "audit": 1}), idle_timeout_secs=0.5
    )
    started = time.monotonic()
    with pytest.raises(ConnectionClosedError):
        async with connect(
            f"{sim.url}?cid=acme_hosted&type=message", additional_headers=AUTH, proxy=None, ping_interval=None
        ) as ws:
            await ws.recv()
    assert 0.5 <= time.monotonic() - started < 3


async def test_pings_keep_a_connection_alive(simulator):
    sim = await simulator(
        timeline=Timeline(rates={"message": 0.001, "maillog": 1, "audit": 1}), idle_timeout_secs=0.5
    )
    async with connect(
        f"{sim.url}?cid=acme_hosted&type=message", additional_headers=AUTH, proxy=None, ping_interval=0.1
    ) as ws:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 1.5)
        await ws.ping()


async def test_the_date_header_is_the_simulator_clock(simulator):
    sim = await simulator(timeline=LINE)
    async with connect(f"{sim.url}?cid=acme_hosted&type=audit", additional_headers=AUTH, proxy=None) as ws:
        date = ws.response.headers["Date"]
    assert date.startswith("Sun, 01 Nov 2026 02:0")
