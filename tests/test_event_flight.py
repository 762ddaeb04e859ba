"""One event in flight, rendered at each output: what rules did to it reaches every output as they
meant it (found in review of the change that made the pipeline carry events)."""

from __future__ import annotations

import json

import msgpack
import orjson

from podship.core import records
from podship.core.encode_json import dumps
from podship.core.event.envelope import Event
from podship.core.models import MODELS, renderer
from podship.core.pod import HOUR_MS, decode_frame, event_identity
from podship.core.records import arrived
from podship.devtools.simgen import Timeline
from podship.filters.log_filter import LogFilter, LogFilterOptions
from podship.outputs.forward import OPTIONS as FORWARD_OPTIONS
from podship.outputs.forward import ForwardOutput
from tests.event_corpus import all_events
from tests.forward_peer import ForwardPeer
from tests.helpers import handed_on, options
from tests.pipes import build, connector, run_until

CONTEXT = {"tenant_name": "acme", "connector": "c", "collector_host": "secret-host"}


def _event(
    name: str = "", *, original: str = "compact", big: bool = False, blank_rcpt: bool = False
) -> Event:
    """A public fixture as the input hands it on (the first message with parts by default)."""
    found = next(
        e for e in all_events() if e[0] == name or (not name and e[1] == "message" and e[2].get("msgParts"))
    )
    kind, body = found[1], json.loads(json.dumps(found[2]))
    if big:
        body["msgParts"][0]["dataBase64"] = "A" * 200_000
    if blank_rcpt:
        body["envelope"]["rcpts"].append("")
    return _handed_on(kind, body, original)


def _filtered(tmp_path, action: str, event: Event) -> Event:
    rules = tmp_path / "rules.yaml"
    rules.write_text(f"mask_key: k\nrules:\n  - name: r\n    action: {action}\n")
    LogFilter(LogFilterOptions(str(rules)), {}).decide(event)
    return event


def _sent(event: Event, schema: str = "syslog_index", original: str = "compact") -> dict:
    return json.loads(dumps(renderer(schema, original)(event)))


def test_a_rule_that_removes_or_masks_the_original_is_not_undone_at_the_output(tmp_path):
    for action in ("{remove_fields: [proofpoint_on_demand]}", "{keep_fields: [src_ip]}"):
        assert "proofpoint_on_demand" not in _sent(_filtered(tmp_path, action, _event())), action
    masked = _filtered(tmp_path, "{mask: {fields: [proofpoint_on_demand], with: text}}", _event())
    assert _sent(masked)["proofpoint_on_demand"] == "***"


def test_an_edit_of_the_envelope_reaches_every_model(tmp_path):
    event = _filtered(tmp_path, "{mask: {fields: [collector_host, tenant_name], with: text}}", _event())
    for schema in ("syslog_index", "ocsf", "ecs"):
        text = json.dumps(_sent(event, schema, "none"))
        assert "secret-host" not in text and '"acme"' not in text, schema


def test_forward_trim_keeps_what_the_rules_did(tmp_path):
    event = _filtered(tmp_path, "{mask: {fields: [src_host, helo], with: text}}", _event(big=True))
    out = ForwardOutput(options(FORWARD_OPTIONS, port=1, max_frame_bytes=100_000, oversize="trim"))
    _, record = msgpack.unpackb(out.encode(event).data, raw=False, strict_map_key=False)
    assert record["trimmed_fields"] and record["src_host"] == "***" and record["helo"] == "***"
    assert all("dataBase64" not in part for part in record["proofpoint_on_demand"]["msgParts"])


def test_a_relayed_record_keeps_its_own_time_and_is_given_no_id():
    record = _sent(_event())  # another podship's record, as a collector passes it on
    event = Event.relay(record, record["timestamp"] + HOUR_MS)  # the collector's entry, an hour on
    assert MODELS["ocsf"](event, "none")["time"] == record["timestamp"]
    stamp, _ = msgpack.unpackb(ForwardOutput(options(FORWARD_OPTIONS, port=1)).encode(event).data, raw=False)
    assert int.from_bytes(stamp.data[:4], "big") == record["timestamp"] // 1000
    foreign = Event.relay({"log": "hello"}, 1_700_000_000_000)  # a Fluent Bit record has no id
    assert "uid" not in MODELS["ocsf"](foreign, "none")["metadata"]


def test_an_edit_of_a_record_field_keeps_the_frame_text_as_the_raw_original(tmp_path):
    event = _filtered(tmp_path, "{set: {site: eu}}", _event(original="raw"))
    assert event.text in dumps(renderer("syslog_index", "raw")(event))
    edited = _filtered(tmp_path, "{remove_fields: [proofpoint_on_demand.msgParts]}", _event(original="raw"))
    assert "msgParts" not in _sent(edited, original="raw")["proofpoint_on_demand"]


def test_rendering_the_syslog_index_record_leaves_the_event_as_other_models_read_it():
    alone, after = _event(original="raw", blank_rcpt=True), _event(original="raw", blank_rcpt=True)
    records.view(after)  # a syslog_index rules file, or a syslog or forward output listed first
    assert dumps(MODELS["ocsf"](alone, "unmapped")) == dumps(MODELS["ocsf"](after, "unmapped"))


def test_masking_a_field_that_quotes_the_sendmail_line_hides_what_it_holds_everywhere(tmp_path):
    event = _filtered(tmp_path, "{mask: {fields: [raw], with: text}}", _event("elastic/mail.log:2"))
    record = _sent(event)
    assert record["raw"] == "***"
    for text in (json.dumps(record), json.dumps(_sent(event, "ocsf", "raw_data"))):
        assert "mailive@example.com" not in text


def test_masking_a_parent_of_a_field_that_holds_a_meaning_hides_it_everywhere(tmp_path):
    event = _event()
    names = [a["name"] for a in records.view(event)["attachments"]]
    _filtered(tmp_path, "{mask: {fields: [attachments], with: text}}", event)
    ocsf = json.dumps(_sent(event, "ocsf", "raw_data"))
    assert names and not any(name in ocsf for name in names)


async def test_an_event_two_outputs_refuse_is_set_aside_once_and_counted_by_each(simulator, tmp_path):
    big = Timeline(rates={"message": 20.0, "maillog": 1.0, "audit": 1.0}, big_every=3)
    sim = await simulator(timeline=big, start_ms=big.epoch_ms + 3 * HOUR_MS)
    peer = await ForwardPeer().start()
    pipeline, out = build(tmp_path, [connector(sim, "message", backfill="0s")])
    values = options(FORWARD_OPTIONS, port=peer.port, max_frame_bytes=1 << 20)  # oversize: dead_letter
    first, second = ForwardOutput(values), ForwardOutput(values)
    pipeline.outputs = [first, second]
    code = await run_until(pipeline, lambda: second.oversize >= 2 and pipeline.records_out >= 30, timeout=60)
    out.close()
    await peer.stop()
    assert code == 0
    letters = (pipeline.inputs[0].store.root / "deadletter.jsonl").read_text().splitlines()
    ids = [json.loads(line)["record"]["event_id"] for line in letters]
    assert len(ids) == len(set(ids)) == first.oversize, "one dead letter per event"
    assert pipeline.delivery["forward"]["dead_letters"] == pipeline.delivery["forward-2"]["dead_letters"]


def _handed_on(kind: str, body: dict, original: str) -> Event:
    return handed_on(kind, body, dict(CONTEXT, original=original))


def test_an_event_parsed_where_it_is_first_read_renders_as_one_parsed_by_the_input():
    """The input reads only an event's id and time; the worker parses the text, without blanks
    unless carried raw: every model renders every corpus event as it did from a parsed event."""
    for _name, kind, body in all_events():
        for original in ("compact", "raw"):
            text = json.dumps(body).encode()
            event_id, ts = event_identity(body, kind)
            parsed = arrived(
                json.loads(text), kind, event_id, ts, dict(CONTEXT, original=original), text=text
            )
            for schema in MODELS:
                want = dumps(renderer(schema, original)(parsed))
                assert dumps(renderer(schema, original)(_handed_on(kind, body, original))) == want


def test_the_text_an_event_arrived_as_is_carried_raw_and_without_blanks_compact():
    body = {"guid": "g-1", "ts": "2024-05-22T19:10:03Z", "x": "", "y": [None, 1], "z": {"a": {}}}
    raw, compact = _handed_on("message", body, "raw"), _handed_on("message", body, "compact")
    assert raw.json() == json.dumps(body).encode() and raw.body == body
    assert (
        json.loads(compact.json()) == compact.body == {"guid": "g-1", "ts": "2024-05-22T19:10:03Z", "y": [1]}
    )
    compact.release()  # what reading it made goes; the text stays, and says the same
    assert compact.body == {"guid": "g-1", "ts": "2024-05-22T19:10:03Z", "y": [1]}


def _through_the_input(data: bytes, kind: str, original: str) -> dict:
    """A frame as the PoD input takes it (whole where it is not strict JSON on one line), rendered
    as a syslog-index output sends it, and read back from the line."""
    frame = decode_frame(data, 1 << 24)
    assert frame.head is not None, frame.reason
    event_id, ts = event_identity(frame.head, kind)
    context = dict(CONTEXT, original=original)
    line = dumps(
        renderer("syslog_index", original)(arrived(frame.event, kind, event_id, ts, context, text=frame.text))
    )
    return orjson.loads(line)  # strict JSON, whatever came in


def test_numbers_beyond_a_double_and_nan_are_sent_as_null_never_as_they_came():
    """msgspec takes 1e400 (the head path); orjson, and so a collector's parser, would not: the
    event is not embedded as it came, and the number goes as null, as NaN does (a blank, which a
    compact original leaves out)."""
    head = b'{"guid":"g-1","ts":"2024-05-22T19:10:03Z",'
    for score in (b"1e400", b"-1e309", b"NaN", b"Infinity"):
        data = head + b'"filter":{"modules":{"spam":{"scores":{"overall":' + score + b',"engine":5}}}}}'
        for original in ("compact", "raw"):
            record = _through_the_input(data, "message", original)
            scores = record["proofpoint_on_demand"]["filter"]["modules"]["spam"]["scores"]
            assert scores == ({"overall": None, "engine": 5} if original == "raw" else {"engine": 5})
            assert record["spam_engine_score"] == 5 and record.get("spam_score") is None
    frame = decode_frame(head + b'"x":1e400}', 1 << 20)  # its text read first, by OCSF's raw_data
    event = arrived(frame.event, "message", "g-1", 0, dict(CONTEXT, original="raw"), text=frame.text)
    assert orjson.loads(event.json()) == {"guid": "g-1", "ts": "2024-05-22T19:10:03Z", "x": None}


def test_a_frame_nested_deeper_than_the_head_reader_goes_is_parsed_whole_not_raised():
    data = b'{"guid":"g-1","ts":"2024-05-22T19:10:03Z","x":' + b"[" * 980 + b"]" * 980 + b"}"
    frame = decode_frame(data, 1 << 24)
    assert frame.head is not None and frame.head["guid"] == "g-1"  # parsed whole (orjson reads 1,024 deep)
    assert decode_frame(b'{"guid":"g","ts":1}\x0c', 1 << 20).reason.startswith("not JSON")  # not JSON space
