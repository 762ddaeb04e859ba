"""Per-connector state on disk: checkpoint, journal of acknowledged ids, dead letters.

Checkpoints are written atomically (temp file, fsync, rename, fsync of the directory) so `kill -9`
at any moment leaves either the old or the new one. Acknowledged ids are appended to a journal
instead of rewriting the whole deduplication set at every commit; the journal is compacted when
it holds mostly forgotten ids. Everything is created owner-only: it describes a customer's mail.

Every byte goes through `_write`, the one place that writes state: a failure (a full disk, a
quota, an I/O error, a read-only filesystem) becomes a `StorageError` naming the file, and leaves
nothing half-written behind: a failed append is cut back off, a failed checkpoint's temp file is
removed, and what could not be journaled is kept to be written by the next try.
"""

from __future__ import annotations

import base64
import contextlib
import errno
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
from podship.errors import ConfigError, StorageError

_CHECKPOINT, _JOURNAL, _DEAD = "checkpoint.json", "seen.log", "deadletter.jsonl"
DEAD_LETTER_MAX_BYTES = 64 << 20  # the default of the service option dead_letter_max_bytes
# Test hook (documented in the README): the path of a file that names an errno (ENOSPC, EDQUOT,
# EIO, EROFS); while that file exists, every state write stores half its bytes and fails with it.
# A tmpfs can only run out of space: the other faults need this.
FAULT_HOOK = "PODSHIP_TEST_STATE_FAULT"
# Faults of the disk, not of the configuration: at start they do not stop podship, which then
# holds and retries like any write that fails later.
STORAGE_FAULTS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS})


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
        self._journal_end = 0  # the journal's length up to its last whole line
        self._journal_fd: int | None = None
        self._unjournaled = b""  # acknowledged ids a failed append could not store yet
        if create:  # `podship test` touches no state
            self._create()

    def _create(self) -> None:
        try:
            self.root.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
            probe = self.root / ".probe"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            if exc.errno in STORAGE_FAULTS and self.root.is_dir():
                return
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
        """The journal's (id, event time) pairs; counts its lines and where the last whole one ends."""
        path = self.root / _JOURNAL
        self._journal_lines = self._journal_end = 0
        if not path.exists():
            return
        with path.open("rb") as journal:
            for line in journal:
                if not line.endswith(b"\n"):  # torn (a crash, a full disk): dropped; the next append cuts it
                    break
                ts, _, event_id = line.rstrip(b"\n").partition(b" ")
                if event_id and ts.lstrip(b"-").isdigit():
                    yield event_id.decode(), int(ts)
                self._journal_lines += 1
                self._journal_end += len(line)

    def journal(self, acked: Iterable[tuple[str, int]]) -> None:
        """Append acknowledged ids at once: a write survives `kill -9` (fsync waits for `commit`),
        so a crash repeats at most the batch that was being delivered when it struck. On a
        StorageError the ids are kept, and written by the next `journal` or `commit`."""
        self._unjournaled += "".join([f"{ts} {event_id}\n" for event_id, ts in acked]).encode()
        self._flush()

    def _flush(self) -> None:
        if not self._unjournaled:
            return
        path = self.root / _JOURNAL
        if self._journal_fd is None:
            with _mapped(path):
                self._journal_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        _append(self._journal_fd, self._unjournaled, path, self._journal_end)
        self._journal_end += len(self._unjournaled)
        self._journal_lines += self._unjournaled.count(b"\n")
        self._unjournaled = b""

    def commit(self, coverage: Coverage, *, clean: bool = False) -> None:
        """Make the journal durable, compact it when mostly forgotten, replace the checkpoint."""
        coverage.prune()
        self._flush()
        if self._journal_fd is not None:
            with _mapped(self.root / _JOURNAL):
                os.fsync(self._journal_fd)
        if self._journal_lines > 2 * len(coverage.seen) + 10_000:
            self._compact(coverage.retain_from())
        self._replace(_CHECKPOINT, json.dumps(coverage.snapshot(clean_close=clean)).encode())

    def _compact(self, cutoff: int) -> None:
        """Rewrite the journal without the ids older than `cutoff` (memory holds only hashes)."""
        body = "".join([f"{ts} {event_id}\n" for event_id, ts in self._journaled() if ts >= cutoff])
        self._replace(_JOURNAL, body.encode())
        if self._journal_fd is not None:  # the file was replaced: appends must go to the new one
            os.close(self._journal_fd)
            self._journal_fd = None
        self._journal_end, self._journal_lines = len(body.encode()), body.count("\n")

    def _replace(self, name: str, data: bytes) -> None:
        """Atomically; on failure the old file stays and the temp file is removed (it holds space)."""
        temp = self.root / f".{name}.tmp"
        try:
            with _mapped(temp):
                fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                try:
                    _write(fd, data, temp)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(temp, self.root / name)
                _fsync_directory(self.root)
        except StorageError:
            with contextlib.suppress(OSError):
                temp.unlink()
            raise

    def dead_letter(self, reason: str, data: bytes | str | dict[str, Any]) -> None:
        """Set a bad frame, or a record no output could encode, aside with its reason; the file
        rotates once at its size limit."""
        path = self.root / _DEAD
        entry: dict[str, Any] = {"time": iso_utc(int(time.time() * 1000)), "reason": reason}
        if isinstance(data, dict):
            entry["record"] = lenient(data)
        else:
            entry.update(size=len(data), **_frame_field(data))
        with _mapped(path):
            if path.exists() and path.stat().st_size > self.dead_letter_max_bytes:
                os.replace(path, path.with_suffix(".jsonl.1"))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            _append(fd, (json.dumps(entry, ensure_ascii=False) + "\n").encode(), path, os.fstat(fd).st_size)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _mapped(path: Path) -> Iterator[None]:
    """OSError becomes StorageError, naming the file: the one map for state on disk."""
    try:
        yield
    except OSError as exc:
        raise StorageError(str(path), exc) from None


def _append(fd: int, data: bytes, path: Path, end: int) -> None:
    """All of `data` after the first `end` bytes, or nothing: what a failed (or killed) write left
    behind is cut off first, so no torn line ever runs into the next one."""
    with _mapped(path):
        if os.fstat(fd).st_size != end:
            os.ftruncate(fd, end)
        try:
            _write(fd, data, path)
        except StorageError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, end)
            raise


def _write(fd: int, data: bytes, path: Path) -> None:
    """Every byte, or a StorageError: os.write may store only part of the data on a full disk."""
    view = memoryview(data)
    with _mapped(path):
        fault = _injected()
        if fault is not None:
            os.write(fd, view[: len(view) // 2])
            raise fault
        while view:
            view = view[os.write(fd, view) :]


def _injected() -> OSError | None:
    """The fault the test hook names, while its file exists."""
    hook = os.environ.get(FAULT_HOOK)
    if not hook:
        return None
    try:
        name = Path(hook).read_text().strip()
    except FileNotFoundError:
        return None
    code = getattr(errno, name, errno.EIO)
    return OSError(code, os.strerror(code))


def _fsync_directory(path: Path) -> None:
    directory = os.open(path, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _frame_field(data: bytes | str) -> dict[str, str]:
    """The frame as text where it is UTF-8, else as base64."""
    if isinstance(data, str):
        return {"frame": data}
    try:
        return {"frame": data.decode()}
    except UnicodeDecodeError:
        return {"frame_base64": base64.b64encode(data).decode()}
