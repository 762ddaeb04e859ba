"""The proofpoint_pod input against the simulator on loopback: backfill, live, refusals, bad frames."""

import json

from podship.core.connector_state import State
from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults
from tests.pipes import build, connector, records, run_for, run_until, written
from tests.proxy import ConnectProxy

LINE = Timeline(rates={"message": 1.0, "maillog": 2.0, "audit": 0.2}, big_every=0)
START = LINE.epoch_ms + 3 * HOUR_MS


def ids_of(tmp_path):
    return [record["event_id"] for record in records(tmp_path)]


async def test_first_start_backfills_the_archive_then_streams_live_each_event_once(
    simulator, tmp_path, record_validator
):
    sim = await simulator(timeline=LINE, start_ms=START)
    pipeline, out = build(tmp_path, [connector(sim, backfill="2h")])
    expected = set(LINE.ids("message", START - 2 * HOUR_MS, START - HOUR_MS))

    def backfilled_and_live():
        coverage = pipeline.inputs[0].coverage
        return coverage is not None and coverage.newest_acked >= START + 2000

    code = await run_until(pipeline, backfilled_and_live)
    out.close()
    got = ids_of(tmp_path)
    assert code == 0
    assert expected <= set(got), f"{len(expected - set(got))} events of the archive hour are missing"
    assert len(got) == len(set(got)), "an event was shipped twice"
    assert max(record["timestamp"] for record in records(tmp_path)) >= START  # and live events came after
    for record in records(tmp_path)[:200]:
        record_validator.validate(record)
    source = pipeline.inputs[0]
    assert source.stats.archive_windows >= 1
    assert source.stats.mode == "stopped"
    assert source.core.state is State.CLOSED  # the loop ended by the stop: the shell closed the core


async def test_a_wrong_key_stops_the_connector_and_says_what_to_check(simulator, tmp_path):
    sim = await simulator(timeline=LINE, start_ms=START, tokens={"other-token": "acme_hosted"})
    pipeline, out = build(tmp_path, [connector(sim)])
    code = await run_until(pipeline, lambda: pipeline.inputs[0].failure is not None, timeout=10)
    out.close()
    assert code == 1
    message = str(pipeline.inputs[0].failure)
    assert message.startswith("HTTP 401: Unauthorized")
    assert "Are they expired, or not licensed for Remote Syslog?" in message
    assert "sim-token" not in message


async def test_a_burst_of_409s_at_start_is_waited_out_as_a_release_not_an_error(simulator, tmp_path, caplog):
    busy = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=busy, start_ms=START, faults=Faults(refuse_count=6, refuse_status=409))
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s")])
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path)) >= 5, timeout=20)
    out.close()
    assert code == 0
    stats = pipeline.inputs[0].stats
    assert (stats.release_waits, stats.refusals, stats.reconnects, stats.last_error) == (6, 0, 0, "")
    assert "another connector or collector" not in caplog.text
    assert len(ids_of(tmp_path)) >= 5


async def test_a_503_storm_backs_off_and_the_first_good_session_resets_the_backoff(simulator, tmp_path):
    busy = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=busy, start_ms=START, faults=Faults(refuse_count=2, refuse_status=503))
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s")])
    source = pipeline.inputs[0]
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path)) >= 5, timeout=20)
    out.close()
    assert code == 0
    assert (source.stats.refusals, source.stats.reconnects) == (2, 2)
    assert source.core.retry.failures == 0, "a session that delivered frames is progress"


async def test_bad_frames_are_dead_lettered_with_a_reason_and_the_stream_goes_on(simulator, tmp_path):
    line = Timeline(rates={"message": 50.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=line, start_ms=START, faults=Faults(bad_every=4, binary_every=5))
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s")])
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path)) >= 120, timeout=20)
    out.close()
    assert code == 0
    letters = [
        json.loads(line)
        for line in (tmp_path / "state" / "acme-message" / "deadletter.jsonl").read_text().splitlines()
    ]
    reasons = {letter["reason"].split(":")[0] for letter in letters}
    assert reasons == {"not JSON", "not a JSON object but a list"}
    assert {"frame_base64": "//4gbm90IHV0Zi04"}.items() <= next(
        x for x in letters if "frame_base64" in x
    ).items()
    stats = pipeline.inputs[0].stats
    assert stats.dead_letters == len(letters)
    assert stats.empty_frames >= 1
    assert len(ids_of(tmp_path)) == len(set(ids_of(tmp_path)))


async def test_events_over_1_mib_pass_and_frames_over_the_cap_are_set_aside(simulator, tmp_path):
    line = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0}, big_every=4)
    sim = await simulator(timeline=line, start_ms=START)
    pipeline, out = build(tmp_path / "a", [connector(sim, backfill="0s")])
    await run_until(
        pipeline, lambda: any(len(json.dumps(r)) > 1 << 20 for r in records(tmp_path / "a")), timeout=20
    )
    out.close()
    assert any(len(json.dumps(record)) > 1 << 20 for record in records(tmp_path / "a"))

    sim2 = await simulator(timeline=line, start_ms=START)
    pipeline, out = build(tmp_path / "b", [connector(sim2, backfill="0s", max_frame_bytes="1MiB")])
    await run_until(
        pipeline,
        lambda: pipeline.inputs[0].stats.dead_letters >= 2 and len(records(tmp_path / "b")) > 10,
        timeout=20,
    )
    out.close()
    letters = (tmp_path / "b" / "state" / "acme-message" / "deadletter.jsonl").read_text().splitlines()
    assert "is over max_frame_bytes (1048576)" in json.loads(letters[0])["reason"]
    assert all(len(json.dumps(record)) < 1 << 20 for record in records(tmp_path / "b"))
    assert len(records(tmp_path / "b")) > 10


async def test_several_connectors_run_at_once(simulator, tmp_path):
    sim = await simulator(
        timeline=Timeline(rates={"message": 20.0, "maillog": 40.0, "audit": 5.0}), start_ms=START
    )
    inputs = [connector(sim, kind, backfill="0s") for kind in ("message", "maillog", "audit")]
    pipeline, out = build(tmp_path, inputs)

    def all_types():
        return {record["event_type"] for record in records(tmp_path)} == {"message", "maillog", "audit"}

    code = await run_until(pipeline, all_types, timeout=20)
    out.close()
    assert code == 0
    assert all_types()
    assert {record["connector"] for record in records(tmp_path)} == {
        "acme-message",
        "acme-maillog",
        "acme-audit",
    }


async def test_keepalive_pings_hold_a_quiet_stream_open(simulator, tmp_path):
    quiet = Timeline(rates={"message": 0.001, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=quiet, start_ms=START, idle_timeout_secs=0.6)
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s", keepalive_interval="0.2s")])
    code = await run_for(pipeline, 2.5)
    out.close()
    assert code == 0
    assert pipeline.inputs[0].stats.reconnects == 0
    assert sim.stats["drops"] == 0


async def test_the_wss_path_verifies_the_server_certificate(simulator, tmp_path, authority):
    server, ca_file = authority.server(), authority.ca_file
    busy = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=busy, start_ms=START, ssl_context=server)
    assert sim.url.startswith("wss://127.0.0.1:")

    pipeline, out = build(tmp_path / "trusted", [connector(sim, backfill="0s", tls_ca_file=str(ca_file))])
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path / "trusted")) >= 10, timeout=20)
    out.close()
    assert code == 0
    assert len(ids_of(tmp_path / "trusted")) >= 10

    pipeline, out = build(tmp_path / "untrusted", [connector(sim, backfill="0s")])
    await run_until(pipeline, lambda: pipeline.inputs[0].stats.reconnects >= 2, timeout=20)
    out.close()
    assert records(tmp_path / "untrusted") == []
    assert "CERTIFICATE_VERIFY_FAILED" in pipeline.inputs[0].stats.last_error


async def test_turning_verification_off_is_loud(simulator, tmp_path, caplog, authority):
    server = authority.server()
    busy = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=busy, start_ms=START, ssl_context=server)
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s", tls_verify=False)])
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path)) >= 5, timeout=20)
    out.close()
    assert code == 0
    assert "TLS verification is OFF" in caplog.text


async def test_the_connection_goes_through_an_http_connect_proxy(simulator, tmp_path):
    proxy = await ConnectProxy().start()
    busy = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0})
    sim = await simulator(timeline=busy, start_ms=START)
    pipeline, out = build(tmp_path, [connector(sim, backfill="0s", proxy=proxy.url)])
    code = await run_until(pipeline, lambda: len(ids_of(tmp_path)) >= 10, timeout=20)
    out.close()
    proxy.stop()
    assert code == 0
    assert proxy.tunnels and all(target == sim.url.split("/")[2] for target in proxy.tunnels)
    assert set(proxy.methods) == {b"CONNECT"}


async def test_a_session_we_close_loses_no_frame_the_server_sent_before_its_close_frame(simulator, tmp_path):
    """The simulator keeps sending until it reads our close frame, then resumes the next session
    right after the last frame it sent: every frame sent before its close frame must be processed,
    or it would be lost without a hole. Four stops under a stream of 1,500 events a second."""
    line = Timeline(rates={"message": 1500.0, "maillog": 0.01, "audit": 0.01}, big_every=0)
    sim = await simulator(timeline=line, start_ms=START)
    for _ in range(4):
        pipeline, out = build(tmp_path, [connector(sim, backfill="0s")])
        enough = written(tmp_path) + 2000
        try:
            await run_until(pipeline, lambda n=enough: written(tmp_path) >= n, timeout=20)
        finally:
            out.close()
        stats = pipeline.inputs[0].stats
        assert len(ids_of(tmp_path)) >= enough
        holes = pipeline.inputs[0].coverage.holes
        assert (stats.reconnects, stats.archive_windows, len(holes)) == (0, 0, 1)  # the first start's seam
    got = ids_of(tmp_path)
    resume = sim.sessions[("sim-token", "message")].resume_k
    first = line.index("message", START - 60_000)
    position = {line.event_id("message", k): k for k in range(first, resume)}
    sent = range(min(position[event_id] for event_id in got), resume)
    assert {line.event_id("message", k) for k in sent} == set(got), "a frame sent before the close was lost"
    assert len(got) == len(set(got))
