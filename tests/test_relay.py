"""`podship relay`: the forward input receives from fluent-logger, Fluent Bit's entry form and
podship's own forward output, and acks a chunk only after podship's outputs took it."""

import asyncio
import gzip
import json
import struct
import time
from dataclasses import replace

import msgpack
import pytest
from fluent import sender

from podship.core import encode_forward as fwd
from podship.core.encode_json import dumps
from podship.engine import config
from podship.engine.delivery import Delivery
from podship.engine.pipeline import Pipeline
from podship.outputs.forward import OPTIONS as FORWARD_OPTIONS
from podship.outputs.forward import ForwardOutput
from podship.outputs.stdout import OPTIONS as STDOUT_OPTIONS
from podship.outputs.stdout import StdoutOutput
from tests.forward_peer import ForwardPeer, transcript
from tests.helpers import as_event, options, record


async def start_relay(tmp_path, outputs=None, inputs=None):
    document = {
        "service": {"state_dir": str(tmp_path / "state")},
        "pipeline": {
            "inputs": [{"name": "forward", "port": 0, **(inputs or {})}],
            "outputs": [{"name": "stdout"}],
        },
    }
    out = (tmp_path / "relayed.ndjson").open("ab")
    pipeline = Pipeline(
        config.parse(document, "<relay>", {}),
        outputs=outputs or [StdoutOutput(options(STDOUT_OPTIONS), stream=out)],
    )
    task = asyncio.create_task(pipeline.run())
    await asyncio.wait_for(pipeline.inputs[0].listening.wait(), 5)
    return pipeline, task, out


def relayed(tmp_path):
    path = tmp_path / "relayed.ndjson"
    return [json.loads(line) for line in path.read_bytes().splitlines()] if path.exists() else []


async def wait_until(condition, timeout=10):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert condition()


async def test_records_from_fluent_logger(tmp_path):
    pipeline, task, out = await start_relay(tmp_path)
    port = pipeline.inputs[0].port
    logger = sender.FluentSender("app", host="127.0.0.1", port=port, nanosecond_precision=True)
    for n in range(5):
        assert await asyncio.to_thread(
            logger.emit_with_time, "event", 1716405003 + n, {"n": n, "text": "héllo"}
        )
    logger.close()
    await wait_until(lambda: len(relayed(tmp_path)) == 5)
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert [r["n"] for r in relayed(tmp_path)] == [0, 1, 2, 3, 4]


async def test_fluent_bits_entry_form_with_metadata_and_gzip_is_acked(tmp_path):
    pipeline, task, out = await start_relay(tmp_path)
    event_time = msgpack.ExtType(0, struct.pack(">II", 1716405003, 58_000_000))
    entries = [msgpack.packb([[event_time, {"meta": 1}], {"n": n}]) for n in range(3)]
    entries.append(msgpack.packb([1716405004.5, {"n": 3}]))  # a float time, as older senders write
    frame = msgpack.packb(
        [
            "pod.message",
            gzip.compress(b"".join(entries)),
            {"chunk": "c2h1bmsx", "size": 4, "compressed": "gzip"},
        ],
        use_bin_type=True,
    )
    reader, writer = await asyncio.open_connection("127.0.0.1", pipeline.inputs[0].port)
    writer.write(frame)
    ack = msgpack.unpackb(await asyncio.wait_for(reader.read(100), 5), raw=False)
    writer.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert ack == {"ack": "c2h1bmsx"}
    assert [r["n"] for r in relayed(tmp_path)] == [0, 1, 2, 3]


async def test_podship_forward_into_podship_relay(tmp_path):
    pipeline, task, out = await start_relay(tmp_path)
    values = options(FORWARD_OPTIONS, port=pipeline.inputs[0].port)
    forward = ForwardOutput(values)
    records = [record("message", k) for k in range(20)]
    await Delivery(forward).deliver([as_event(r) for r in records])
    assert len(relayed(tmp_path)) == 20  # acked only once the relay's output had written them
    await forward.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert relayed(tmp_path) == [json.loads(dumps(r)) for r in records]  # as their lines read


async def test_the_relay_acks_only_after_its_own_outputs_took_the_chunk(tmp_path):
    peer = await ForwardPeer(withhold=1).start()
    values = options(FORWARD_OPTIONS, port=peer.port)
    downstream = ForwardOutput(values)
    pipeline, task, out = await start_relay(tmp_path, outputs=[downstream])
    upstream = ForwardOutput(replace(values, port=pipeline.inputs[0].port, ack_timeout=120.0))
    await Delivery(upstream).deliver([as_event(record("maillog", 1))])
    assert peer.chunks.most_common(1)[0][1] == 2, (
        "the relay acked only after its output was acked (second try, after the 30 s ack_timeout)"
    )
    await upstream.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    await peer.stop()


# Replaying what real senders sent (tests/fixtures/forward/README.md says how they were recorded).

FLUENTD_SAMPLE = {"text": "héllo", "event_id": "fixture"}
PODSHIP_SAMPLE = [
    {"event_id": f"fixture-{n}", "event_type": "message", "timestamp": 1716405003058 + n, "text": "héllo"}
    for n in range(3)
]


def decoded(frame):
    (message,) = fwd.Replies().feed(frame)
    return message


@pytest.mark.parametrize(
    ("name", "tag", "records", "times"),
    [
        ("fluentd-1.16.11-out-secure", "pod.sample", [FLUENTD_SAMPLE | {"n": n} for n in range(6)], None),
        ("fluentd-1.16.11-out-gzip", "pod.sample", [FLUENTD_SAMPLE | {"n": n} for n in range(6)], None),
        (
            "fluent-bit-5.1.1-out-secure-user",
            "pod.message",
            PODSHIP_SAMPLE,
            [1716405003058, 1716405003059, 1716405003060],
        ),
        (
            "fluent-bit-5.1.1-out-secure-user-gzip",
            "pod.message",
            PODSHIP_SAMPLE,
            [1716405003058, 1716405003059, 1716405003060],
        ),
    ],
)
def test_real_senders_frames_decode_and_the_ack_is_the_real_receivers_byte_for_byte(
    name, tag, records, times
):
    client, server = transcript(name)
    events = fwd.events_of(decoded(client[-1]))
    assert (events.tag, [record for _, record in events.events]) == (tag, records)
    if times:
        assert [ms for ms, _ in events.events] == times
    assert fwd.ack(events.chunk) == server[-1], "same bytes, same msgpack type as the real in_forward"


def test_fluentds_chunk_id_ends_with_a_newline_and_its_entries_are_str32():
    frame = transcript("fluentd-1.16.11-out-secure")[0][-1]
    assert frame[: len(b"\x93\xaapod.sample\xdb")] == b"\x93\xaapod.sample\xdb"
    chunk = fwd.events_of(decoded(frame)).chunk
    assert chunk.endswith("\n") and fwd.ack(chunk).endswith(b"==\n")


@pytest.mark.parametrize(
    ("name", "users", "server"),
    [
        (
            "fluent-bit-5.1.1-out-secure-user",
            {"podship-user": "recorded-password"},
            "fluent-bit-receiver.test",
        ),
        ("fluentd-1.16.11-out-secure", {}, "fluentd-receiver.test"),
    ],
)
def test_a_real_senders_ping_passes_and_our_pong_is_the_real_receivers(name, users, server):
    (ping_frame, *_), (helo_frame, pong_frame, _) = transcript(name)
    helo = fwd.parse_helo(decoded(helo_frame))
    salt = helo.auth_salt if users else b""
    ping = fwd.check_ping(decoded(ping_frame), helo.nonce, "recorded-key", users, salt)
    assert ping.refusal == ""
    assert fwd.pong(ping, helo.nonce, "recorded-key", server) == pong_frame
    wrong = fwd.check_ping(decoded(ping_frame), helo.nonce, "another-key", users, salt)
    assert fwd.pong(wrong, helo.nonce, "another-key", server) == msgpack.packb(
        ["PONG", False, "shared_key mismatch", "", ""]
    )


async def test_a_recorded_fluentd_stream_replayed_into_the_relay_gets_fluentds_own_ack(tmp_path):
    client, server = transcript("fluentd-1.16.11-out-gzip")
    pipeline, task, out = await start_relay(tmp_path)
    reader, writer = await asyncio.open_connection("127.0.0.1", pipeline.inputs[0].port)
    writer.write(b"".join(client))
    answer = await asyncio.wait_for(reader.readexactly(len(server[-1])), 10)
    writer.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert answer == server[-1]
    assert relayed(tmp_path) == [FLUENTD_SAMPLE | {"n": n} for n in range(6)]


async def test_the_relay_runs_the_handshake_as_a_server(tmp_path, caplog):
    from podship.runtime.options import Secret

    inputs = {"shared_key": "relay-key", "self_hostname": "relay.test"}
    inputs |= {"username": "podship-user", "password": "pw"}
    pipeline, task, out = await start_relay(tmp_path, inputs=inputs)
    values = options(FORWARD_OPTIONS, port=pipeline.inputs[0].port)
    good = {"shared_key": Secret("relay-key"), "username": "podship-user", "password": Secret("pw")}
    forward = ForwardOutput(replace(values, **good))
    await Delivery(forward).deliver([as_event(record("message", k)) for k in range(5)])
    await forward.close()
    wrong = ForwardOutput(replace(values, **(good | {"password": Secret("nope")})))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(Delivery(wrong).deliver([as_event(record("message", 9))]), 1.0)
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert [r["event_id"] for r in relayed(tmp_path)] == [record("message", k)["event_id"] for k in range(5)]
    assert wrong.refused_handshakes >= 2
    assert pipeline.inputs[0].stats.refusals == wrong.refused_handshakes
