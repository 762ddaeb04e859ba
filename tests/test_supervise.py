"""Only a configuration error and a closed stdout end podship: any other exception that escapes a
task is said once, as one ERROR line (the traceback at debug level), and the task runs again."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from podship.runtime.plugin import Encoded
from tests.pipes import build, connector, records, run_until


class Buggy:
    """An output with a bug that shows once (a plugin's KeyError, not a delivery failure)."""

    name, tags, reconnect_max = "buggy", frozenset(), 30.0

    def __init__(self) -> None:
        self.calls = 0

    async def start(self) -> None:
        return None

    def encode(self, record: dict) -> Encoded:
        return Encoded(b"")

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        self.calls += 1
        if self.calls == 1:
            raise KeyError("schema")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("place", ["before stdout", "after stdout"])
async def test_a_task_that_raises_is_said_once_and_runs_again_with_its_batch(
    simulator, tmp_path, caplog, place
):
    """Before stdout, stdout has not taken the batch the bug broke; after it, it has, and must not
    get it again when the restarted worker goes on with the batch it held."""
    sim = await simulator()
    pipeline, out = build(tmp_path, [connector(sim)])
    buggy = Buggy()
    pipeline.outputs.insert(0 if place == "before stdout" else 1, buggy)
    caplog.set_level(logging.INFO)
    code = await run_until(pipeline, lambda: buggy.calls > 1 and len(records(tmp_path)) > 100)
    out.close()
    assert code == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage().split(";")[0] for r in errors] == ["outputs failed (KeyError: 'schema')"]
    assert errors[0].exc_info is None  # the traceback goes to debug, never to the user
    assert "restarting it in" in errors[0].getMessage()
    twice = [i for i, n in Counter(r["event_id"] for r in records(tmp_path)).items() if n > 1]
    assert not twice
