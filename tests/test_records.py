"""PoD events -> syslog-index records, checked against the shipped JSON Schema."""

import copy
import json

import orjson
import pytest

from podship.core.encode_json import dumps
from podship.core.event.blanks import compact
from podship.core.pod import decode_frame, event_identity
from podship.devtools.simgen import Timeline
from tests.helpers import normalise

CONTEXT = {"tenant_name": "acme", "connector": "acme-message"}
LINE = Timeline(seed=7, big_every=5)


def record_of(event, kind):
    event_id, ts = event_identity(event, kind)
    return normalise(event, kind, event_id, ts, CONTEXT)


@pytest.mark.parametrize("kind", ["message", "maillog", "audit"])
def test_every_simulated_event_becomes_a_valid_record(kind, record_validator):
    for k in range(60):
        event = LINE.event(kind, k)
        record = record_of(event, kind)
        record_validator.validate(record)
        assert record["msg_class"] == f"proofpoint_on_demand_{kind}"
        assert record["event_id"] == LINE.event_id(kind, k)
        assert record["timestamp"] == LINE.ts(kind, k)


def test_message_fields_come_from_where_other_collectors_read_them():
    event = {
        "guid": "G1",
        "ts": "2024-05-22T12:10:03.058340-0700",
        "connection": {
            "ip": "192.0.2.7",
            "host": "mx.sender.example",
            "tls": {"inbound": {"version": "TLSv1.3"}},
        },
        "envelope": {"from": "a@sender.example", "rcpts": "b@acme.example"},
        "filter": {
            "disposition": "quarantine",
            "routeDirection": "inbound",
            "msgSizeBytes": "2048",
            "actions": [
                {"module": "access", "rule": "default", "action": "continue", "isFinal": False},
                {"module": "spam", "rule": "phish", "action": "quarantine", "isFinal": "True"},
            ],
            "modules": {"spam": {"scores": {"overall": 97, "classifiers": {"phish": "88", "spam": 10}}}},
        },
        "msg": {
            "normalizedHeader": {
                "subject": ["Hello", "ignored"],
                "from": ["a@sender.example"],
                "to": ["b@acme.example"],
            }
        },
        "msgParts": [
            {
                "disposition": "attached",
                "detectedName": "x.pdf",
                "detectedMime": "application/pdf",
                "detectedSizeBytes": 10,
                "md5": "m",
                "sha256": "s",
                "urls": [{"url": "https://u.example/"}],
            },
            {"disposition": "inline", "urls": [{"url": "https://u.example/"}, {"url": "https://v.example/"}]},
        ],
        "pps": {"agent": "m1.ppops.net", "cid": "acme_hosted", "version": "8.0"},
    }
    record = record_of(event, "message")
    assert record["timestamp"] == 1716405003058
    assert record["event_time"] == "2024-05-22T19:10:03.058Z"
    assert record["src_ip"] == "192.0.2.7"
    assert record["direction"] == "inbound"
    assert record["disposition"] == "quarantine"
    assert (record["final_action"], record["final_module"], record["final_rule"]) == (
        "quarantine",
        "spam",
        "phish",
    )
    assert record["envelope_rcpts"] == ["b@acme.example"]
    assert record["subject"] == "Hello"
    assert record["msg_size_bytes"] == 2048
    assert record["spam_score"] == 97
    assert record["phish_score"] == 88
    assert record["attachments"] == [
        {
            "name": "x.pdf",
            "type": "application/pdf",
            "size_bytes": 10,
            "md5": "m",
            "sha256": "s",
            "disposition": "attached",
        }
    ]
    assert record["urls"] == ["https://u.example/", "https://v.example/"]
    assert record["tls_version"] == "TLSv1.3"
    assert record["reporting_host"] == "m1.ppops.net"
    assert record["tenant_name"] == "acme"


def test_maillog_values_that_are_numeric_strings_become_numbers():
    event = {
        "id": "abc/def+ghi",
        "ts": "2024-06-19T05:25:41.855197-0700",
        "data": "raw line",
        "sm": {"qid": "Q", "sizeBytes": "1234", "nrcpts": "2", "stat": "Sent", "to": ["<a@b>"]},
    }
    record = record_of(event, "maillog")
    assert record["msg_size_bytes"] == 1234
    assert record["nrcpts"] == 2
    assert record["raw"] == "raw line"
    assert record["envelope_rcpts"] == ["a@b"]
    assert record["sendmail_status"] == "Sent"


def test_maillog_addresses_are_bare_as_in_message_records_so_a_join_works():
    message = record_of(LINE.event("message", 1), "message")
    event = {
        "id": "x",
        "ts": "2024-06-19T05:25:41.855197-0700",
        "sm": {"from": "<>", "to": ["<a@b>", "c@d", "<e@f>"]},
    }
    record = record_of(event, "maillog")
    assert record["envelope_rcpts"] == ["a@b", "c@d", "e@f"]
    assert record["envelope_from"] == "<>", "the null sender (a bounce) keeps its meaning"
    assert not any(address.startswith("<") for address in message["envelope_rcpts"])
    assert record_of({**event, "sm": {"from": "<s@b>"}}, "maillog")["envelope_from"] == "s@b"


def test_records_name_the_collector_host_when_the_input_knows_it():
    event = LINE.event("audit", 1)
    event_id, ts = event_identity(event, "audit")
    record = normalise(event, "audit", event_id, ts, {**CONTEXT, "collector_host": "collector-7"})
    assert record["collector_host"] == "collector-7"
    assert "collector_host" not in record_of(LINE.event("audit", 1), "audit")


def test_audit_tags_become_a_map():
    event = LINE.event("audit", 3)
    record = record_of(event, "audit")
    assert record["audit_tags"] == {"console": "admin", "module": "spam"}
    assert record["user_email"] == event["audit"]["user"]["email"]


def test_blank_values_are_omitted_everywhere_but_zero_and_false_stay():
    assert compact(
        {"a": "", "b": [], "c": {}, "d": None, "e": 0, "f": False, "g": {"h": [None, "", {}]}, "i": [1, ""]}
    ) == {"e": 0, "f": False, "i": [1]}


def _blanks(value, path=()):
    """The paths of blank values (None, "", [], {}) anywhere in `value`."""
    if value is None or value in ("", [], {}):
        return [path]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    return [found for key, item in items for found in _blanks(item, (*path, key))]


def test_the_original_event_keeps_dotted_keys_and_loses_only_blanks():
    event = LINE.event("message", 10)
    assert ("filter", "currentFolder") in _blanks(event)  # the generator does send blanks
    record = record_of(copy.deepcopy(event), "message")
    original = json.loads(dumps(record))["proofpoint_on_demand"]
    assert _blanks(original) == []
    assert original["guid"] == event["guid"] and original["msgParts"][0]["md5"] == event["msgParts"][0]["md5"]
    identities = original["filter"]["modules"]["dmarc"]["authResults"][0]["emailIdentities"]
    assert "smtp.mailfrom" in identities
    assert original["msgParts"][0]["metadata"] == {"": "empty key", "Page Count": "2", "dc.title": "Invoice"}
    assert "currentFolder" not in original["filter"]


@pytest.mark.parametrize(
    "event",
    [
        {"guid": "g", "ts": "2024-05-22T12:10:03Z"},
        {
            "guid": "g",
            "ts": "2024-05-22T12:10:03Z",
            "connection": [],
            "filter": "x",
            "msg": {"header": []},
            "msgParts": {"a": 1},
        },
        {
            "guid": "g",
            "ts": "2024-05-22T12:10:03Z",
            "connection": ["x"],
            "envelope": 3,
            "pps": "x",
            "metadata": [1],
        },
        {
            "guid": "g",
            "ts": "2024-05-22T12:10:03Z",
            "filter": {"actions": [None, 3, {"isFinal": "true"}], "modules": {"spam": {"scores": 5}}},
        },
        {
            "guid": "g",
            "ts": "2024-05-22T12:10:03Z",
            "msgParts": [None, {"urls": "x"}, {"urls": [None, {"url": 3}]}],
        },
    ],
)
def test_events_of_unexpected_shapes_still_normalise(event, record_validator):
    record = record_of(event, "message")
    record_validator.validate(record)
    assert record["event_id"] == "g"


@pytest.mark.parametrize("kind", ["maillog", "audit"])
def test_maillog_and_audit_of_unexpected_shapes_still_normalise(kind, record_validator):
    key = "id" if kind == "maillog" else "guid"
    event = {key: "x", "ts": "2024-05-22T12:10:03Z", "sm": ["a"], "tls": "b", "audit": ["c"], "pps": 1}
    record_validator.validate(record_of(event, kind))


FRAME = (
    b'{"guid":"g-1","ts":"2026-11-01T00:00:01.000000+0000","filter":{"disposition":"continue",'
    b'"currentFolder":"","actions":[]},"connection":{"ip":"192.0.2.7","sid":null},"msgParts":[]}'
)


def record_carrying(original, text=FRAME):
    event = json.loads(FRAME)
    return normalise(event, "message", "g-1", 1793491201000, {**CONTEXT, "original": original}, text=text)


def test_original_event_raw_puts_the_frame_in_the_line_byte_for_byte():
    line = dumps(record_carrying("raw"))
    assert line.endswith(b',"proofpoint_on_demand":' + FRAME + b"}")
    assert json.loads(line)["src_ip"] == "192.0.2.7"


def test_original_event_compact_and_none():
    compacted = json.loads(dumps(record_carrying("compact")))["proofpoint_on_demand"]
    assert compacted == {
        "guid": "g-1",
        "ts": "2026-11-01T00:00:01.000000+0000",
        "filter": {"disposition": "continue"},
        "connection": {"ip": "192.0.2.7"},
    }
    assert "proofpoint_on_demand" not in json.loads(dumps(record_carrying("none")))


def test_a_frame_that_is_not_one_line_of_strict_json_is_re_encoded_even_raw():
    pretty = json.dumps(json.loads(FRAME), indent=2).encode()
    record = record_carrying("raw", decode_frame(pretty, 1 << 20).text)
    line = dumps(record)
    assert b"\n" not in line and json.loads(line)["proofpoint_on_demand"]["filter"]["currentFolder"] == ""
    assert decode_frame(b"\xef\xbb\xbf" + FRAME, 1 << 20).text == FRAME  # a byte-order mark goes
    assert decode_frame(FRAME + b"\r\n", 1 << 20).text == FRAME


@pytest.mark.parametrize(
    "frame",
    [
        FRAME.replace(b'"msgParts":[]', b'"score":NaN'),  # JSON to Python's parser, not to RFC 8259
        FRAME.decode().encode("utf-16"),  # taken by Python's encoding detection
    ],
    ids=["nan", "utf-16"],
)
def test_a_frame_only_the_lenient_parser_takes_is_never_embedded_as_it_is(frame):
    decoded = decode_frame(frame, 1 << 20)
    assert decoded.event is not None and decoded.text == b""  # parsed whole: no text to embed
    record = normalise(decoded.event, "message", "g-1", 1793491201000, {"original": "raw"}, text=decoded.text)
    line = dumps(record)
    assert orjson.loads(line)["proofpoint_on_demand"]["guid"] == "g-1"  # strict JSON, UTF-8


def test_an_event_id_a_journal_line_cannot_hold_is_refused():
    for event_id in ("a\nb", "\ud800"):
        with pytest.raises(ValueError, match="unprintable"):
            event_identity({"guid": event_id, "ts": 0}, "message")
