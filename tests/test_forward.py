"""The forward output against a spec-conformant receiver on loopback, through its faults."""

import asyncio
import json

import msgpack
import pytest
from fluent import sender

from podship.core import encode_forward as fwd
from podship.core.pod import HOUR_MS
from podship.devtools.simgen import Timeline
from podship.engine.delivery import Delivery
from podship.outputs.forward import OPTIONS as FORWARD_OPTIONS
from podship.outputs.forward import ForwardOutput
from tests.forward_peer import ForwardPeer, ReplayServer, _unpack_all, transcript
from tests.helpers import as_event, options, record
from tests.pipes import build, connector, run_for, run_until

LINE = Timeline(rates={"message": 40.0, "maillog": 40.0, "audit": 1.0})


def test_an_entry_is_event_time_with_nanoseconds_and_the_record():
    packed = fwd.entry(1716405003058, {"a": "b"})
    ((time, record),) = _unpack_all(packed)
    assert record == {"a": "b"}
    assert time == pytest.approx(1716405003.058)
    raw = msgpack.unpackb(packed, raw=False)
    assert raw[0].code == 0
    assert raw[0].data == (1716405003).to_bytes(4, "big") + (58_000_000).to_bytes(4, "big")
    assert raw[0] == sender.EventTime(1716405003, 58_000_000)  # the reference client's bytes


def test_a_str_that_was_not_utf8_goes_back_byte_for_byte():
    """A relayed str that a peer sent as invalid UTF-8 (decoded with surrogateescape) is packed as
    the bytes it came as, beside ordinary text; the entry after it packs as if it had not been."""
    odd = b"caf\xe9 \xff".decode("utf-8", "surrogateescape")
    packed = fwd.entry(1000, {"odd": odd, "text": "Grüße ✓"})
    raw = msgpack.unpackb(packed, raw=True)
    assert raw[1] == {b"odd": b"caf\xe9 \xff", b"text": "Grüße ✓".encode()}
    assert fwd.entry(2000, {"a": "b"}) == msgpack.packb([fwd.event_time(2000), {"a": "b"}], use_bin_type=True)


def test_packed_forward_carries_chunk_size_and_gzip():
    entries = [fwd.entry(1000 * i, {"i": i}) for i in range(3)]
    tag, body, options = msgpack.unpackb(
        fwd.packed_forward("pod.message", entries, "Y2h1bms=", compress=True), raw=False
    )
    assert (tag, options) == ("pod.message", {"chunk": "Y2h1bms=", "size": 3, "compressed": "gzip"})
    assert [record for _, record in ForwardPeer._entries(body, options)] == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_split_keeps_chunks_under_the_limit():
    entries = [b"x" * 400] * 10
    groups = fwd.split(entries, 1000)
    assert [len(group) for group in groups] == [2, 2, 2, 2, 2]
    assert fwd.split([b"x" * 5000, b"y"], 1000) == [[b"x" * 5000], [b"y"]]


def test_acks_and_refusals_are_told_apart():
    replies = fwd.Replies()
    second = msgpack.packb({"ack": "xyz"})
    messages = replies.feed(msgpack.packb({"ack": "abc"}) + second[:3])
    assert [fwd.ack_of(m) for m in messages] == ["abc"]
    assert [fwd.ack_of(m) for m in replies.feed(second[3:] + msgpack.packb({}))] == ["xyz", None]
    assert fwd.ack_of([1]) is None


def test_tag_templates_read_record_fields():
    assert fwd.tag_for("pod.{event_type}", {"event_type": "maillog"}) == "pod.maillog"
    assert fwd.tag_for("pod.{tenant_name}.{nope}", {"tenant_name": "acme"}) == "pod.acme.unknown"


def journaled(pipeline):
    """The ids the inputs journaled as delivered (seen.log: `<event time> <id>` per line)."""
    logs = [source.store.root / "seen.log" for source in pipeline.inputs]
    return {line.split(" ", 1)[1] for log in logs if log.exists() for line in log.read_text().splitlines()}


async def forward_run(simulator, tmp_path, peer, *, until=200, timeout=30, **values):
    sim = await simulator(timeline=LINE, start_ms=LINE.epoch_ms + 3 * HOUR_MS)
    pipeline, out = build(tmp_path, [connector(sim, kind, backfill="0s") for kind in ("message", "maillog")])
    # The shipped defaults but `values`: a withheld ack costs the real 30 s ack_timeout.
    port = values.pop("port", None) or peer.port  # a peer that starts late has no port yet
    forward = ForwardOutput(options(FORWARD_OPTIONS, port=port, **values))
    pipeline.outputs = [forward]
    if until:
        code = await run_until(pipeline, lambda: pipeline.records_out >= until, timeout=timeout)
    else:  # what must not get through: run for `timeout`
        code = await run_for(pipeline, timeout)
    out.close()
    return code, pipeline, forward


def received_ids(peer):
    return [record["event_id"] for _, _, record in peer.records]


async def test_every_record_arrives_through_withheld_acks_refusals_and_cut_connections(simulator, tmp_path):
    peer = await ForwardPeer(withhold=1, refuse=2, cut=2).start()
    # The withheld ack costs the shipped ack_timeout (30 s) before the chunk goes again.
    code, pipeline, forward = await forward_run(simulator, tmp_path, peer, timeout=90)
    await peer.stop()
    assert code == 0
    acknowledged = journaled(pipeline)
    assert acknowledged and acknowledged <= set(received_ids(peer))
    assert forward.resent_chunks >= 5  # 2 refused, 2 cut, 1 withheld
    retried = pipeline.delivery["forward"]["retried"]  # attempts: one may send several chunks again
    assert 3 <= retried <= forward.resent_chunks, "the pipeline owns the retries, and counts them"
    assert all(count >= 1 for count in peer.chunks.values())
    assert max(peer.chunks.values()) >= 2, "a chunk whose ack was withheld came a second time, same id"
    tags = {tag for tag, _, _ in peer.records}
    assert tags == {"pod.message", "pod.maillog"}


async def test_the_chunks_of_a_batch_are_all_sent_before_their_acks_are_awaited(tmp_path):
    peer = await ForwardPeer(hold=2).start()  # acks nothing until two chunks wait for an ack
    values = options(FORWARD_OPTIONS, port=peer.port)
    forward = ForwardOutput(values)
    batch = [record("message", 1), record("maillog", 1)]  # two tags: two chunks
    await asyncio.wait_for(
        Delivery(forward).deliver([as_event(r) for r in batch]), 10
    )  # one chunk at a time would wait 30 s in vain
    await forward.close()
    await peer.stop()
    assert peer.most_unacked == 2
    assert sorted(tag for tag, _, _ in peer.records) == ["pod.maillog", "pod.message"]
    assert (forward.sent_chunks, forward.resent_chunks) == (2, 0)


async def test_a_refused_chunk_goes_again_and_the_acked_one_of_its_batch_does_not(tmp_path):
    peer = await ForwardPeer(refuse=1).start()  # answers {} to the first chunk, acks the rest
    forward = ForwardOutput(options(FORWARD_OPTIONS, port=peer.port))
    await asyncio.wait_for(
        Delivery(forward).deliver([as_event(record("message", 1)), as_event(record("maillog", 1))]), 10
    )
    await forward.close()
    await peer.stop()
    assert sorted(tag for tag, _, _ in peer.records) == ["pod.maillog", "pod.message"]  # once each
    assert (forward.sent_chunks, forward.resent_chunks) == (2, 1)


async def test_the_shared_key_handshake(simulator, tmp_path):
    from podship.runtime.options import Secret

    peer = await ForwardPeer(shared_key="s3cret").start()
    code, _, _ = await forward_run(
        simulator, tmp_path, peer, shared_key=Secret("s3cret"), self_hostname="podship.test"
    )
    await peer.stop()
    assert code == 0
    assert len(received_ids(peer)) >= 200
    assert peer.rejected_handshakes == 0


async def test_a_wrong_key_delivers_nothing_and_holds_the_pipeline(simulator, tmp_path):
    from podship.runtime.options import Secret

    peer = await ForwardPeer(shared_key="s3cret").start()
    code, pipeline, _ = await forward_run(
        simulator, tmp_path, peer, until=0, timeout=3, shared_key=Secret("wrong")
    )
    await peer.stop()
    assert code == 0
    assert peer.records == []
    assert peer.rejected_handshakes >= 2
    assert pipeline.records_out == 0
    assert all(not source.coverage.seen for source in pipeline.inputs), "nothing is acknowledged upstream"
    assert journaled(pipeline) == set()


async def test_gzip_chunks(simulator, tmp_path):
    peer = await ForwardPeer().start()
    code, _, _ = await forward_run(simulator, tmp_path, peer, compress="gzip")
    await peer.stop()
    assert code == 0
    assert len(received_ids(peer)) >= 200


async def test_a_receiver_that_starts_late_gets_everything(simulator, tmp_path):
    peer = ForwardPeer()
    probe = await ForwardPeer().start()
    port = probe.port
    await probe.stop()
    task = asyncio.create_task(forward_run(simulator, tmp_path, peer, port=port))
    await asyncio.sleep(1.0)
    peer.wanted_port = port
    await peer.start()
    code, pipeline, forward = await task
    await peer.stop()
    assert code == 0
    acknowledged = journaled(pipeline)
    assert acknowledged and acknowledged <= set(received_ids(peer))
    assert forward.resent_chunks >= 1


@pytest.mark.parametrize("policy", ["dead_letter", "trim"])
async def test_a_record_over_the_frame_limit_follows_the_oversize_policy(simulator, tmp_path, policy):
    big = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0}, big_every=3)
    sim = await simulator(timeline=big, start_ms=big.epoch_ms + 3 * HOUR_MS)
    peer = await ForwardPeer().start()
    pipeline, out = build(tmp_path, [connector(sim, "message", backfill="0s")])
    values = options(FORWARD_OPTIONS, port=peer.port, max_frame_bytes=1 << 20, oversize=policy)
    forward = ForwardOutput(values)
    pipeline.outputs = [forward]
    code = await run_until(pipeline, lambda: forward.oversize >= 2 and pipeline.records_out >= 30, timeout=60)
    out.close()
    await peer.stop()
    assert code == 0
    assert all(len(json.dumps(record)) < 1 << 20 for _, _, record in peer.records)
    letters = pipeline.inputs[0].store.root / "deadletter.jsonl"  # the dead letters of the record's input
    trimmed = [record for _, _, record in peer.records if "trimmed_fields" in record]
    if policy == "dead_letter":
        entries = [json.loads(line) for line in letters.read_text().splitlines()]
        assert len(entries) == forward.oversize == pipeline.delivery["forward"]["dead_letters"]
        assert all(entry["reason"].startswith("forward: ") for entry in entries), "names the output"
        assert all(entry["record"]["event_id"] for entry in entries)
        assert not trimmed
    else:
        assert not letters.exists()
        assert len(trimmed) == forward.oversize
        parts = trimmed[0]["proofpoint_on_demand"]["msgParts"]
        assert all("dataBase64" not in part for part in parts)


async def test_tls_with_a_verified_receiver_and_the_shared_key(simulator, tmp_path, authority):
    peer = await ForwardPeer(shared_key="k", ssl=authority.server()).start()
    code, _, _ = await forward_run(
        simulator, tmp_path, peer, tls=True, tls_ca_file=authority.ca_file, shared_key="k"
    )
    await peer.stop()
    assert code == 0
    assert len(received_ids(peer)) >= 200


async def test_failover_to_the_next_server(simulator, tmp_path):
    down = await ForwardPeer().start()
    down_port = down.port
    await down.stop()
    peer = await ForwardPeer().start()
    servers = [f"127.0.0.1:{down_port}", f"127.0.0.1:{peer.port}"]
    code, pipeline, forward = await forward_run(simulator, tmp_path, peer, servers=servers)
    await peer.stop()
    assert code == 0
    acknowledged = journaled(pipeline)
    assert acknowledged and acknowledged <= set(received_ids(peer))
    assert forward.targets[forward.current] == ("127.0.0.1", peer.port)


async def test_a_client_certificate_for_receivers_that_ask(simulator, tmp_path, authority):
    peer = await ForwardPeer(ssl=authority.server(client_certificates=True)).start()
    files = {"tls_ca_file": authority.ca_file, **authority.client()}
    code, _, _ = await forward_run(simulator, tmp_path, peer, tls=True, **files)
    await peer.stop()
    assert code == 0
    assert len(received_ids(peer)) >= 200


# Replaying what real receivers sent (tests/fixtures/forward/README.md says how they were recorded).


def decoded(frame):
    (message,) = fwd.Replies().feed(frame)
    return message


@pytest.mark.parametrize(
    ("name", "user", "server"),
    [
        (
            "fluent-bit-5.1.1-in-secure-user",
            ("podship-user", "recorded-password"),
            "fluent-bit-receiver.test",
        ),
        ("fluentd-1.16.11-in-secure", ("", ""), "fluentd-receiver.test"),
    ],
)
def test_the_ping_a_real_receiver_accepted_and_its_pong(name, user, server):
    (ping_frame, data_frame), (helo_frame, pong_frame, ack_frame) = transcript(name)
    helo = fwd.parse_helo(decoded(helo_frame))
    assert len(helo.nonce) == 16 and len(helo.auth_salt) == 16, "random bytes, whatever their msgpack type"
    _, hostname, salt, *_ = decoded(ping_frame)
    username, password = user
    ping = fwd.ping(helo, hostname, "recorded-key", salt, username=username, password=password)
    assert ping == ping_frame, "byte for byte the PING the real receiver answered with a PONG"
    assert fwd.check_pong(decoded(pong_frame), helo, "recorded-key", salt) == server
    assert fwd.ack_of(decoded(ack_frame)) == decoded(data_frame)[2]["chunk"]


def test_fluent_bits_helo_holds_str_of_random_bytes_and_fluentd_bin():
    fluent_bit = transcript("fluent-bit-5.1.1-in-secure-user")[1][0]
    fluentd = transcript("fluentd-1.16.11-in-secure")[1][0]
    assert fluent_bit[fluent_bit.index(b"nonce") + 5] == 0xB0, "fixstr of 16 bytes"
    assert fluentd[fluentd.index(b"nonce") + 5 : fluentd.index(b"nonce") + 7] == b"\xc4\x10", "bin8 of 16"
    with pytest.raises(UnicodeDecodeError):  # what podship tripped on before: a str that is not UTF-8
        msgpack.unpackb(fluent_bit, raw=False)


@pytest.mark.parametrize(
    ("name", "extra"),
    [
        (
            "fluent-bit-5.1.1-in-secure-wrongkey",
            {"username": "podship-user", "password": "recorded-password"},
        ),
        ("fluent-bit-5.1.1-in-secure-wronguser", {"username": "podship-user", "password": "wrong"}),
        ("fluentd-1.16.11-in-secure-wrongkey", {}),
    ],
)
async def test_a_refused_handshake_is_one_clear_line_counted_and_retried(tmp_path, caplog, name, extra):
    """The recorded answers to the PINGs that were sent with these options (and the wrong key)."""
    server = await ReplayServer(name).start()
    key = "wrong-key" if name.endswith("wrongkey") else "recorded-key"
    values = options(FORWARD_OPTIONS, port=server.port, shared_key=key, **extra)
    forward = ForwardOutput(values)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(
            Delivery(forward).deliver([as_event({"event_id": "x", "event_type": "message"})]), 2.0
        )
    await server.stop()
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("podship.")]
    assert forward.refused_handshakes == server.connections >= 3, "normal backoff"
    assert len(lines) == 1, "said once; the repeats within a minute are summarised"
    assert "the receiver rejected the shared key or hostname" in lines[0]
    assert not any("codec" in line or "\n" in line for line in lines)
