"""The stdout output on a file that a killed predecessor left with a torn last line."""

import json

from podship.engine.delivery import Delivery
from podship.outputs.stdout import OPTIONS, StdoutOutput
from tests.helpers import as_event, options, record


async def test_a_torn_last_line_is_ended_before_the_first_record(tmp_path):
    """`podship run >> records.ndjson` after a `kill -9` in the middle of a write: the next
    process's first record must be a line of its own, or a line reader loses it."""
    path = tmp_path / "records.ndjson"
    path.write_bytes(b'{"event_id":"whole"}\n{"event_id":"cut in the mid')
    with path.open("ab") as stream:
        output = StdoutOutput(options(OPTIONS), stream=stream)
        await output.start()
        await Delivery(output).deliver([as_event(record("message", 1))])
    lines = path.read_bytes().splitlines()
    assert len(lines) == 3
    assert json.loads(lines[2])["event_id"] == record("message", 1)["event_id"]


async def test_a_file_that_ends_in_a_newline_is_left_as_it_is(tmp_path):
    path = tmp_path / "records.ndjson"
    path.write_bytes(b'{"event_id":"whole"}\n')
    with path.open("ab") as stream:
        output = StdoutOutput(options(OPTIONS), stream=stream)
        await output.start()
        await Delivery(output).deliver([as_event(record("message", 1))])
    assert len(path.read_bytes().splitlines()) == 2
