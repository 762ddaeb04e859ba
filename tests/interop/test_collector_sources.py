"""The sources users run, into `podship relay`: Fluentd `in_exec` and `in_tail`, Fluent Bit `tail` and
`exec`, each parsing JSON lines and handing them over with its out_forward and acks.

Runs when `FLUENTD` (a command run as `$FLUENTD -c FILE`) or `FLUENT_BIT` (a fluent-bit binary) is
set, and skips otherwise (CI replays the recorded transcripts of these wirings instead:
tests/test_relay_transcripts.py). Fluentd hands over what it read from a pipe or a file as msgpack
**bin** keys and values; Fluent Bit as str. The relay is configs/podship-relay.yaml's forward input
(port adapted) with a stdout output, so that each record can be compared whole with the line fed.
Each test asserts that every record arrived exactly once and equal to its line: every field, str keys
and values, at every depth.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.interop.collectors import (
    CONFIGS,
    FLUENT_BIT,
    FLUENTD,
    event_ids,
    fluentd_conf,
    free_port,
    needs_fluent_bit,
    needs_fluentd,
    running,
    wait_for_port,
)

COUNT = 300


def lines(run: str, count: int = COUNT) -> list[dict[str, Any]]:
    """Records shaped like podship's: an event time the Fluent Bit parser reads, non-ASCII keys and
    values at depth, an int, a list."""
    base = 1716405003058
    return [
        {
            "event_id": f"interop-{run}-{n}",
            "event_type": "message",
            "event_time": datetime.fromtimestamp((base + n) / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
            + "Z",
            "timestamp": base + n,
            "text": "héllo ✓",
            "msg": {"header": {"subject": ["Grüße ✓"], "x-clé": ["välue"]}, "rcpts": [f"r{n}@example.test"]},
        }
        for n in range(count)
    ]


def write_lines(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    return path


@contextlib.contextmanager
def relay(tmp: Path, port: int) -> Iterator[tuple[subprocess.Popen[bytes], Path, Path]]:
    """`podship relay` on `port` (configs/podship-relay.yaml's input, a stdout output): its process,
    its stdout file and its log."""
    document = yaml.safe_load((CONFIGS / "podship-relay.yaml").read_text())
    document["service"]["state_dir"] = str(tmp / "relay-state")
    document["pipeline"]["inputs"][0]["port"] = port
    document["pipeline"].pop("filters", None)
    document["pipeline"]["outputs"] = [{"name": "stdout"}]
    config = tmp / "relay.yaml"
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    out, log = tmp / "relayed.ndjson", tmp / "relay.log"
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "podship", "relay", "-c", str(config)],
            stdout=stdout,
            stderr=stderr,
            env={**os.environ, "POD_API_KEY": "unused"},
            start_new_session=True,
        )
    try:
        yield process, out, log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def through_relay(tmp: Path, sender: list[str], relay_port: int, sent: list[dict[str, Any]]) -> None:
    """Start the relay, then the collector `sender` (which reads `sent` and forwards to the relay);
    every record must come out of the relay once, whole."""
    with relay(tmp, relay_port) as (podship, out, relay_log):
        await wait_for_port(relay_port, podship, relay_log)
        with running(sender, tmp / "collector.log"):
            seen = await until_counted(out, {r["event_id"] for r in sent}, podship, timeout=90)
    expected = {r["event_id"]: r for r in sent}
    missing, twice = set(expected) - set(seen), {key for key, count in seen.items() if count > 1}
    context = f"\nrelay log:\n{said(relay_log)}\ncollector log:\n{said(tmp / 'collector.log')}"
    assert not missing and not twice, f"{len(missing)} missing, {len(twice)} twice" + context
    relayed = [json.loads(line) for line in out.read_bytes().splitlines()]
    # Fluentd's own log events stay with it (the shipped config's @FLUENT_LOG label): records only.
    assert sorted(relayed, key=lambda r: r["timestamp"]) == sent, "every record whole: all fields, str"


async def until_counted(
    path: Path, expected: set[str], relay: subprocess.Popen[bytes], timeout: float
) -> Counter[str]:
    """The ids the relay printed, once every expected one is there, the relay has exited, or at the
    timeout; then 2 s more to let any duplicate show up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and relay.poll() is None and not expected <= set(event_ids(path)):
        await asyncio.sleep(0.25)
    await asyncio.sleep(2)
    return event_ids(path)


def said(log: Path) -> str:
    """A log's warnings and errors (the first 20 lines of them), then its end."""
    text = log.read_text(errors="replace")
    problems = [line for line in text.splitlines() if re.search(r"ERROR|WARN|error|Error:", line)][:20]
    return "\n".join(problems) + "\n...\n" + text[-1500:]


FLUENTD_SOURCES = {
    "exec": "<source>\n  @type exec\n  tag pod.exec\n  command cat {path}\n"
    "  <parse>\n    @type json\n    json_parser {parser}\n  </parse>\n</source>\n",
    "tail": "<source>\n  @type tail\n  tag pod.tail\n  path {path}\n  pos_file {path}.pos\n"
    "  read_from_head true\n  <parse>\n    @type json\n    json_parser {parser}\n  </parse>\n</source>\n",
}


@needs_fluentd
@pytest.mark.parametrize("parser", ["yajl", "oj"])
@pytest.mark.parametrize("source", ["exec", "tail"])
async def test_fluentd_source_parsing_json_into_podship_relay(tmp_path, source, parser):
    """Fluentd `in_exec` or `in_tail` with `<parse> @type json`, then configs/fluentd/
    out_forward_to_relay.conf as shipped (require_ack_response true), port adapted.

    Both JSON parsers users have: Yajl (Fluentd's fallback, plain gem installs) and Oj (the default
    when the oj gem is there, as in fluent-package; without it Fluentd logs so and uses Yajl). On
    the wire: bin records from in_exec with either, from in_tail with Yajl; str from in_tail with Oj.
    """
    relay_port = free_port()
    sent = lines(f"fluentd-{source}-{parser}")
    path = write_lines(tmp_path / "records.ndjson", sent)
    prefix = FLUENTD_SOURCES[source].format(path=path, parser=parser)
    adapted = fluentd_conf("out_forward_to_relay.conf", tmp_path, {24225: relay_port}, prefix=prefix)
    await through_relay(tmp_path, [FLUENTD, "-c", str(adapted)], relay_port, sent)


def fluent_bit_file(tmp: Path, source: str, path: Path, relay_port: int) -> Path:
    """configs/fluent-bit/exec.yaml with its command reading `path` (`exec`) or its input replaced by
    `tail` on `path` (same parser), and its output replaced by out_forward with acks to the relay
    (no shipped Fluent Bit file has one)."""
    document = yaml.safe_load((CONFIGS / "fluent-bit" / "exec.yaml").read_text())
    document["service"]["storage.path"] = str(tmp / "fb-storage")
    (plugin,) = document["pipeline"]["inputs"]
    if source == "exec":
        plugin["command"] = f"cat {path}"
    else:
        plugin = {"name": "tail", "tag": "pod", "path": str(path), "read_from_head": True}
        plugin |= {"parser": "podship_json", "storage.type": "filesystem", "db": str(tmp / "tail.db")}
    document["pipeline"]["inputs"] = [plugin]
    output = {"name": "forward", "match": "pod*", "host": "127.0.0.1", "port": relay_port}
    document["pipeline"]["outputs"] = [output | {"require_ack_response": True, "retry_limit": "no_limits"}]
    file = tmp / f"fluent-bit-{source}.yaml"
    file.write_text(yaml.safe_dump(document, sort_keys=False))
    return file


@needs_fluent_bit
@pytest.mark.parametrize("source", ["tail", "exec"])
async def test_fluent_bit_source_parsing_json_into_podship_relay(tmp_path, source):
    relay_port = free_port()
    sent = lines(f"fluent-bit-{source}")
    path = write_lines(tmp_path / "records.ndjson", sent)
    command = [FLUENT_BIT, "-c", str(fluent_bit_file(tmp_path, source, path, relay_port))]
    await through_relay(tmp_path, command, relay_port, sent)
