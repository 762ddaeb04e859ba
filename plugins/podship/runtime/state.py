"""Per-connector state on disk: checkpoint, journal of acknowledged ids, dead letters.

Checkpoints are written atomically (temp file, fsync, rename, fsync of the directory) so `kill -9`
at any moment leaves either the old or the new one. Acknowledged ids are appended to a journal
instead of rewriting the whole deduplication set at every commit; the journal is compacted when
it holds mostly forgotten ids. Everything is created owner-only: it describes a customer's mail.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from podship.core.coverage import Coverage, Timing
from podship.core.encode_json import lenient
from podship.core.pod import iso_utc
from podship.core.seen import Seen
from podship.errors import ConfigError

_CHECKPOINT, _JOURNAL, _DEAD = "checkpoint.json", "seen.log", "deadletter.jsonl"
DEAD_LETTER_MAX_BYTES = 64 << 20  # the default of the service option dead_letter_max_bytes


class Store:
    """The files of one connector under `<state_dir>/<connector>/`."""

    def __init__(
        self,
        state_dir: Path,
        connector: str,
        dead_letter_max_bytes: int = DEAD_LETTER_MAX_BYTES,
        *,
        create: bool = True,
    ) -> None:
        self.root = state_dir / connector
        self.dead_letter_max_bytes = dead_letter_max_bytes
        self._journal_lines = 0
        self._journal_fd: int | None = None
        if not create:  # `podship test` touches no state
            return
        try:
            self.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.root / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"state directory {self.root} is not writable: {exc.strerror}", option="state_dir"
            ) from None

    def has_checkpoint(self) -> bool:
        return (self.root / _CHECKPOINT).exists()

    def load(self, timing: Timing, now: int, backfill_ms: int) -> Coverage:
        """The saved coverage, or a fresh one that backfills `backfill_ms`."""
        path = self.root / _CHECKPOINT
        if not path.exists():  # a first start, or a crash before the first checkpoint: ids may be journaled
            coverage = Coverage.fresh(timing, now, backfill_ms)
            coverage.seen = self._read_journal()
            return coverage
        snapshot = json.loads(path.read_text())
        coverage = Coverage.restore(timing, snapshot, self._read_journal())
        coverage.prune()
        return coverage

    def _read_journal(self) -> Seen:
        seen = Seen()
        for event_id, ts in self._journaled():
            seen.add(event_id, ts)
        return seen

    def _journaled(self) -> Iterator[tuple[str, int]]:
        """The journal's (id, event time) pairs; counts its lines."""
        path = self.root / _JOURNAL
        self._journal_lines = 0
        if not path.exists():
            return
        with path.open("rb") as journal:
            for line in journal:
                ts, _, event_id = line.rstrip(b"\n").partition(b" ")
                if event_id and ts.lstrip(b"-").isdigit():  # a torn last line after a crash is skipped
                    yield event_id.decode(), int(ts)
                self._journal_lines += 1

    def journal(self, acked: Iterable[tuple[str, int]]) -> None:
        """Append acknowledged ids at once: a write survives `kill -9` (fsync waits for `commit`),
        so a crash repeats at most the batch that was being delivered when it struck."""
        lines = "".join([f"{ts} {event_id}\n" for event_id, ts in acked])
        if not lines:
            return
        if self._journal_fd is None:
            self._journal_fd = os.open(self.root / _JOURNAL, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(self._journal_fd, lines.encode())
        self._journal_lines += lines.count("\n")

    def commit(self, coverage: Coverage, *, clean: bool = False) -> None:
        """Make the journal durable, compact it when mostly forgotten, replace the checkpoint."""
        coverage.prune()
        if self._journal_fd is not None:
            os.fsync(self._journal_fd)
        if self._journal_lines > 2 * len(coverage.seen) + 10_000:
            self._compact(coverage.retain_from())
        self._replace(_CHECKPOINT, json.dumps(coverage.snapshot(clean_close=clean)).encode())

    def _compact(self, cutoff: int) -> None:
        """Rewrite the journal without the ids older than `cutoff` (memory holds only hashes)."""
        body = "".join([f"{ts} {event_id}\n" for event_id, ts in self._journaled() if ts >= cutoff])
        if self._journal_fd is not None:  # the file is replaced: appends must go to the new one
            os.close(self._journal_fd)
            self._journal_fd = None
        self._replace(_JOURNAL, body.encode())
        self._journal_lines = body.count("\n")

    def _replace(self, name: str, data: bytes) -> None:
        temp = self.root / f".{name}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, self.root / name)
        directory = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def dead_letter(self, reason: str, data: bytes | str | dict[str, Any]) -> None:
        """Set a bad frame, or a record no output could encode, aside with its reason; the file
        rotates once at its size limit."""
        path = self.root / _DEAD
        if path.exists() and path.stat().st_size > self.dead_letter_max_bytes:
            os.replace(path, path.with_suffix(".jsonl.1"))
        entry: dict[str, Any] = {"time": iso_utc(int(time.time() * 1000)), "reason": reason}
        if isinstance(data, dict):
            entry["record"] = lenient(data)
        else:
            entry.update(size=len(data), **_frame_field(data))
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode())
        finally:
            os.close(fd)


def _frame_field(data: bytes | str) -> dict[str, str]:
    """The frame as text where it is UTF-8, else as base64."""
    if isinstance(data, str):
        return {"frame": data}
    try:
        return {"frame": data.decode()}
    except UnicodeDecodeError:
        return {"frame_base64": base64.b64encode(data).decode()}
