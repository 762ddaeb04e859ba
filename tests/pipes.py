"""Running a real pipeline against a real simulator inside the test's event loop."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from podship.engine import config
from podship.engine.pipeline import Pipeline
from podship.outputs.stdout import OPTIONS as STDOUT_OPTIONS
from podship.outputs.stdout import StdoutOutput

KEY = "sim-token"


def connector(sim, kind="message", **overrides):
    entry = {
        "name": "proofpoint_pod",
        "tenant": "acme",
        "cluster_id": "acme_hosted",
        "api_key": "${POD_API_KEY}",
        "type": kind,
        "url": sim.url,
        "backfill": "1h",  # the one option a test may shorten: every timing option keeps its default
    }
    entry.update(overrides)
    return entry


def build(tmp_path, inputs, **service):
    document = {
        "service": {"state_dir": str(tmp_path / "state"), "checkpoint_interval": "0.1s", **service},
        "pipeline": {"inputs": inputs, "outputs": [{"name": "stdout"}]},
    }
    parsed = config.parse(document, str(tmp_path / "podship.yaml"), {"POD_API_KEY": KEY})
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = (tmp_path / "out.ndjson").open("ab")
    return Pipeline(parsed, outputs=[StdoutOutput(STDOUT_OPTIONS.validate({}), stream=out)]), out


async def run_podship(config, key, stdout, stderr, command="run"):
    """The real `podship` console entry point in a child process, as an operator runs it."""
    env = {**os.environ, "POD_API_KEY": key}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "podship", command, "-c", str(config), stdout=stdout, stderr=stderr, env=env
    )


def records(tmp_path):
    path = tmp_path / "out.ndjson"
    if not path.exists():
        return []
    data = path.read_bytes()  # the pipeline may be writing: a last line without its newline waits
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].splitlines()]


def written(tmp_path):
    """How many whole records are in the output so far: a count of lines, cheap enough for a
    condition checked every 50 ms in the event loop podship runs in (parsing a growing file there
    starved the pipeline it waited for)."""
    path = tmp_path / "out.ndjson"
    return path.read_bytes().count(b"\n") if path.exists() else 0


async def run_until(pipeline, condition, timeout=30.0):
    """Run until `condition()` holds (checked every 50 ms) or the pipeline ends by itself; returns
    the exit code. A `timeout` that passes first fails the test: a wait never passes silently."""
    task = asyncio.create_task(pipeline.run())
    deadline = time.monotonic() + timeout
    while not task.done() and not condition():
        if time.monotonic() >= deadline:
            pipeline.stop.set()
            await task
            raise AssertionError(f"the condition did not hold within {timeout:g}s")
        await asyncio.sleep(0.05)
    pipeline.stop.set()
    return await task


async def run_for(pipeline, seconds):
    """Run for `seconds`, then stop; returns the exit code (for tests of what does not happen)."""
    task = asyncio.create_task(pipeline.run())
    await asyncio.wait({task}, timeout=seconds)
    pipeline.stop.set()
    return await task
