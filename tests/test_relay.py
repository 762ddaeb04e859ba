"""`podship relay`: the forward input receives from fluent-logger, Fluent Bit's entry form and
podship's own forward output, and acks a chunk only after podship's outputs took it."""

import asyncio
import gzip
import json
import struct
import time

import msgpack
from fluent import sender

from podship import config
from podship.out_forward import OPTIONS as FORWARD_OPTIONS
from podship.out_forward import ForwardOutput
from podship.out_stdout import StdoutOutput
from podship.pipeline import Pipeline
from tests.forward_peer import ForwardPeer
from tests.test_rules import record


async def start_relay(tmp_path, outputs=None):
    document = {
        "service": {"state_dir": str(tmp_path / "state")},
        "pipeline": {"inputs": [{"name": "forward", "port": 0}], "outputs": [{"name": "stdout"}]},
    }
    out = (tmp_path / "relayed.ndjson").open("ab")
    pipeline = Pipeline(
        config.parse(document, "<relay>", {}), outputs=outputs or [StdoutOutput({}, stream=out)]
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
    values = {spec.name: spec.default for spec in FORWARD_OPTIONS.options} | {"port": pipeline.inputs[0].port}
    forward = ForwardOutput(values, tmp_path / "state")
    records = [record("message", k) for k in range(20)]
    await forward.write(records)
    assert len(relayed(tmp_path)) == 20  # acked only once the relay's output had written them
    await forward.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    assert relayed(tmp_path) == records


async def test_the_relay_acks_only_after_its_own_outputs_took_the_chunk(tmp_path):
    peer = await ForwardPeer(withhold=2).start()
    values = {spec.name: spec.default for spec in FORWARD_OPTIONS.options} | {
        "port": peer.port,
        "ack_timeout": 0.3,
        "shared_key": None,
    }
    downstream = ForwardOutput(values, tmp_path / "state")
    pipeline, task, out = await start_relay(tmp_path, outputs=[downstream])
    upstream = ForwardOutput(
        {**values, "port": pipeline.inputs[0].port, "ack_timeout": 30.0}, tmp_path / "state"
    )
    await upstream.write([record("maillog", 1)])
    assert peer.chunks.most_common(1)[0][1] == 3, (
        "the relay acked only after its output was acked (third try)"
    )
    await upstream.close()
    pipeline.stop.set()
    assert await task == 0
    out.close()
    await peer.stop()
