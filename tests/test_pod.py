"""PoD protocol facts: times, URLs, handshake statuses, frames."""

import json

import pytest

from podship.core.pod import (
    ceil_hour,
    decode_frame,
    event_identity,
    floor_hour,
    format_ts,
    handshake_error,
    iso_utc,
    parse_ts,
    stream_url,
)

# 2024-05-22T19:10:03.058340Z in epoch milliseconds
UTC_MS = 1716405003058


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-22T12:10:03.058340-0700",
        "2024-05-22T19:10:03.058340-0000",
        "2024-05-22T19:10:03.058340+0000",
        "2024-05-22T19:10:03.058Z",
        "2024-05-22T19:10:03.058340",
        "2024-05-23T00:40:03.05834+05:30",
        " 2024-05-22T19:10:03.0583 ",
    ],
)
def test_parse_ts_accepts_every_form_pod_and_clients_use(text):
    assert parse_ts(text) == UTC_MS


def test_parse_ts_takes_epoch_numbers_in_seconds_or_milliseconds():
    assert parse_ts(1716405003) == 1716405003000
    assert parse_ts(1716405003.5) == 1716405003500
    assert parse_ts(UTC_MS) == UTC_MS


@pytest.mark.parametrize("bad", ["yesterday", "", True, None, [1], "2024-13-01T00:00:00"])
def test_parse_ts_rejects_what_is_not_a_time(bad):
    with pytest.raises(ValueError):
        parse_ts(bad)


def test_query_times_are_utc_with_an_explicit_offset():
    assert format_ts(UTC_MS) == "2024-05-22T19:10:03.058+0000"
    assert iso_utc(UTC_MS) == "2024-05-22T19:10:03.058Z"


def test_hour_rounding_matches_the_archive():
    hour = 1716404400000  # 19:00:00
    assert floor_hour(UTC_MS) == hour
    assert ceil_hour(UTC_MS) == hour + 3_600_000
    assert ceil_hour(hour) == hour
    assert floor_hour(hour) == hour


def test_stream_url_encodes_the_plus_of_the_offset():
    url = stream_url("wss://logstream.proofpoint.com/v1/stream", "acme hosted", "message", 0, 3_600_000)
    assert url == (
        "wss://logstream.proofpoint.com/v1/stream?cid=acme+hosted&type=message"
        "&sinceTime=1970-01-01T00%3A00%3A00.000%2B0000&toTime=1970-01-01T01%3A00%3A00.000%2B0000"
    )
    assert stream_url("wss://h/v1/stream", "c", "audit") == "wss://h/v1/stream?cid=c&type=audit"


@pytest.mark.parametrize(
    ("status", "retryable", "words"),
    [
        (400, False, "configuration"),
        (401, False, "Remote Syslog"),
        (403, False, "permissions"),
        (404, False, "API URL"),
        (405, False, "GET"),
        (409, True, "same key"),
        (429, True, "licensing"),
        (500, True, "Server Error"),
        (503, True, "Server Error"),
        (418, False, "Unexpected"),
    ],
)
def test_handshake_statuses_say_what_they_mean_and_whether_to_retry(status, retryable, words):
    error = handshake_error(status)
    assert error.retryable is retryable
    assert error.status == status
    assert words in str(error)
    assert str(error).startswith(f"HTTP {status}: ")


def test_frames_text_and_binary_and_trailing_newline_decode_alike():
    event = {"guid": "g", "ts": "2024-05-22T19:10:03Z"}
    text = json.dumps(event)
    for data in (text, text.encode(), text + "\n", (text + "\r\n").encode()):
        frame = decode_frame(data, 1 << 20)
        assert frame.head == event
        assert (frame.event if frame.event is not None else json.loads(frame.text)) == event


def test_the_input_reads_the_top_level_id_and_time_only():
    """A strict one-line frame is not parsed whole at the input: its head holds the top-level id
    and time (a nested `guid` or `ts` is not it), and a missing time stays missing."""
    data = b'{"msg":{"guid":"inner","ts":1},"guid":"outer","ts":"2024-05-22T19:10:03Z","x":[{}]}'
    frame = decode_frame(data, 1 << 20)
    assert frame.head == {"guid": "outer", "ts": "2024-05-22T19:10:03Z"}
    assert frame.event is None and frame.text == data
    assert decode_frame(b'{"id":"m-1"}', 1 << 20).head == {"id": "m-1"}
    with pytest.raises(ValueError, match="'ts' is missing"):
        event_identity(decode_frame(b'{"guid":"g"}', 1 << 20).head, "message")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b'{"guid":"g","ts":1,"subject":"\xff"}', "not JSON"),  # bad UTF-8 where the head does not read
        (b'{"guid":"g","ts":1,"x":[1,}', "not JSON"),
    ],
)
def test_a_frame_is_rejected_at_the_input_whatever_part_is_malformed(data, reason):
    frame = decode_frame(data, 1 << 20)
    assert frame.head is None and reason in frame.reason


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ('{"guid": "broken', "not JSON"),
        (b"\xff\xfe", "not JSON"),
        ("[1, 2]", "not a JSON object but a list"),
        ('"text"', "not a JSON object but a str"),
        ("x" * 2000, "over max_frame_bytes (1024)"),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(data, reason):
    frame = decode_frame(data, 1024)
    assert frame.head is None and frame.event is None
    assert reason in frame.reason
    assert not frame.empty


@pytest.mark.parametrize("data", ["", b"", "\n", "  \r\n"])
def test_empty_frames_are_ignored_not_rejected(data):
    frame = decode_frame(data, 1024)
    assert frame.empty


def test_event_identity_per_type():
    assert event_identity({"guid": "g1", "ts": "2024-05-22T19:10:03.058Z"}, "message") == ("g1", UTC_MS)
    assert event_identity({"id": "a/b+c", "ts": "2024-05-22T19:10:03.058Z"}, "maillog") == ("a/b+c", UTC_MS)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"ts": "2024-05-22T19:10:03Z"}, "no event id"),
        ({"guid": 7, "ts": "2024-05-22T19:10:03Z"}, "no event id"),
        ({"guid": "g"}, "no event time"),
        ({"guid": "g", "ts": "soon"}, "unparseable 'ts'"),
    ],
)
def test_event_identity_says_what_is_missing(event, reason):
    with pytest.raises(ValueError, match=reason):
        event_identity(event, "message")
