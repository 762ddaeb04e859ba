"""`podship demo`: the simulator and a pipeline to stdout in one process, as a user first meets it.

Piped, stdout carries NDJSON as `podship run` writes it. On a terminal, nobody reads megabytes of
JSON: the first few records are pretty-printed (without the original event) and a count runs on.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from typing import Any, TextIO

from podship.core import records
from podship.core.event.envelope import Event
from podship.core.units import counted
from podship.devtools.simgen import Timeline
from podship.devtools.simulator import SimOptions, Simulator
from podship.engine import config, logsetup
from podship.engine.pipeline import Pipeline
from podship.errors import ReaderClosed
from podship.outputs.stdout import OPTIONS as STDOUT_OPTIONS
from podship.outputs.stdout import StdoutOutput
from podship.runtime.plugin import Encoded, Output

DEMO_RATES = {"message": 0.2, "maillog": 0.5, "audit": 0.02}
SHOWN = 3  # records pretty-printed on a terminal


def add_parser(commands: Any, serve: Any) -> None:
    demo = commands.add_parser("demo", help="the simulator and a pipeline to stdout, in one process")
    demo.add_argument(
        "--seconds", type=_positive(float), default=5.0, help="stop after this long (default 5)"
    )
    demo.add_argument(
        "--events",
        type=_positive(int),
        default=None,
        help="stop once this many records are out (what was received still drains)",
    )
    demo.add_argument("--follow", action="store_true", help="keep going until interrupted")
    demo.set_defaults(handler=lambda args: run(args, serve))


def _positive(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be more than 0, got {text}")
        return value

    return parse


class TerminalOutput:
    """For a person at a terminal: a few records in full, then a running count."""

    name = "stdout"
    tags: frozenset[str] = frozenset()
    reconnect_max = 30.0

    def __init__(self, screen: TextIO) -> None:
        self.screen, self.count, self._shown_at = screen, 0, 0.0

    async def start(self) -> None:
        return None

    def encode(self, event: Event) -> Encoded:
        shown = records.render(event, "none")
        text = json.dumps(shown, indent=2, ensure_ascii=False)
        text += "\n(the original PoD event, under proofpoint_on_demand, left out)"
        return Encoded(text.encode())

    async def send(self, batch: list[Encoded], attempt: int) -> None:
        for shown in batch[: max(0, SHOWN - self.count)]:
            print(shown.data.decode(), file=self.screen)
        self.count += len(batch)
        if time.monotonic() - self._shown_at > 0.2:
            self._shown_at = time.monotonic()
            print(f"\r{self.count} records (piped, podship writes NDJSON)", end="", file=self.screen)
            self.screen.flush()

    async def close(self) -> None:
        print(f"\r{self.count} records (piped, podship writes NDJSON)", file=self.screen)


def run(args: argparse.Namespace, serve: Any) -> int:
    logsetup.configure("warning")
    output: Output = (
        TerminalOutput(sys.stdout) if sys.stdout.isatty() else StdoutOutput(STDOUT_OPTIONS.validate({}))
    )
    return asyncio.run(_run(args, serve, output))


async def _run(args: argparse.Namespace, serve: Any, output: Output) -> int:
    line = Timeline(rates=dict(DEMO_RATES), big_every=0)
    sim_options = SimOptions(timeline=line, start_ms=line.epoch_ms + 230 * 60_000, speed=30.0)
    with tempfile.TemporaryDirectory(prefix="podship-demo-") as state_dir:
        async with Simulator(sim_options) as sim:
            document = _document(sim.url, state_dir)
            parsed = config.parse(document, "<demo>", {"POD_API_KEY": "sim-token"})
            pipeline = Pipeline(parsed, outputs=[output], max_records=args.events or 0)
            started = time.monotonic()
            code: int = await serve(pipeline, 0.0 if args.follow else args.seconds)
            _summary(pipeline, time.monotonic() - started, closed=pipeline.reader_closed)
    return code


def _document(url: str, state_dir: str) -> dict[str, Any]:
    def connector(kind: str) -> dict[str, Any]:
        return {
            "name": "proofpoint_pod",
            "tenant": "acme",
            "cluster_id": "acme_hosted",
            "api_key": "${POD_API_KEY}",
            "type": kind,
            "url": url,
            "backfill": "2h",  # every timing option at its default: the demo is what a user gets
        }

    return {
        "service": {"state_dir": state_dir, "log_level": "warning", "grace_period": "2s"},
        "pipeline": {"inputs": [connector(kind) for kind in DEMO_RATES], "outputs": [{"name": "stdout"}]},
    }


def _summary(pipeline: Pipeline, seconds: float, *, closed: bool) -> None:
    """Counts of what reached stdout (delivered), not of what was received."""
    written = pipeline.fatal.written if isinstance(pipeline.fatal, ReaderClosed) else {}
    stats = {source: source.status().stats for source in pipeline.inputs}
    per_type = ", ".join(
        f"{source.kind} {counts.delivered + written.get(source.name, 0)}" for source, counts in stats.items()
    )
    duplicates = sum(counts.duplicates for counts in stats.values())
    dead = sum(counts.dead_letters for counts in stats.values())
    hours = sum(counts.archive_hours for counts in stats.values())
    ending = "; then the reader closed the pipe" if closed else ""
    print(
        f"podship demo: {counted(pipeline.records_out, 'record')} in {seconds:.1f}s ({per_type}); "
        f"{counted(hours, 'archive hour')} backfilled, then live; "
        f"{counted(duplicates, 'duplicate')} dropped, {dead} dead-lettered{ending}",
        file=sys.stderr,
    )
