"""The files of one connector: the id journal and its compaction, on a real directory; what a
write that fails leaves behind (faults through the state writer's test hook, as tmpfs can only
run out of space)."""

import json

import pytest

from podship.core.coverage import Coverage, Timing
from podship.errors import StorageError
from podship.inputs.proofpoint import ProofpointInput
from podship.inputs.proofpoint_options import OPTIONS
from podship.runtime.state import FAULT_HOOK, Store
from tests.helpers import options

H = 3_600_000
T0 = 480_000 * H


def test_the_journal_is_compacted_to_the_ids_a_repair_can_still_bring_back(tmp_path):
    store = Store(tmp_path, "acme-message")
    coverage = Coverage(Timing(), watermark=T0 + 5 * H)
    old = [(f"old-{k}", T0 + k % 1000) for k in range(15_000)]
    recent = [(f"recent-{k}", T0 + 5 * H + k) for k in range(10)]
    for batch in (old, recent):
        coverage.acknowledge(batch)
        store.journal(batch)
    store.commit(coverage)
    lines = (tmp_path / "acme-message" / "seen.log").read_text().splitlines()
    assert lines == [f"{T0 + 5 * H + k} recent-{k}" for k in range(10)]
    reloaded = Store(tmp_path, "acme-message").load(Timing(), T0 + 6 * H, 0)
    assert len(reloaded.seen) == 10
    assert reloaded.seen.remembers("recent-3", T0 + 5 * H + 3)
    assert not reloaded.seen.remembers("old-3", T0 + 3)


def test_a_torn_last_line_is_dropped_on_load_and_cut_off_by_the_next_append(tmp_path):
    store = Store(tmp_path, "acme-message")
    journal = tmp_path / "acme-message" / "seen.log"
    journal.write_bytes(f"{T0} a\n{T0} b\n{T0} c-cut-mid".encode())
    coverage = store.load(Timing(), T0 + H, 0)
    assert len(coverage.seen) == 2 and coverage.seen.remembers("b", T0)
    assert not coverage.seen.remembers("c-cut-mid", T0)
    store.journal([("d", T0)])
    assert journal.read_text() == f"{T0} a\n{T0} b\n{T0} d\n"


@pytest.fixture
def fault(tmp_path, monkeypatch):
    """Arms the state writer's hook: `fault("ENOSPC")` makes every write fail, `fault(None)` heals."""
    hook = tmp_path / "fault"
    monkeypatch.setenv(FAULT_HOOK, str(hook))

    def arm(name):
        if name is None:
            hook.unlink(missing_ok=True)
        else:
            hook.write_text(name)

    return arm


@pytest.mark.parametrize("name", ["ENOSPC", "EDQUOT", "EIO", "EROFS"])
def test_a_failed_append_leaves_no_torn_line_and_its_ids_are_written_by_the_next_try(tmp_path, fault, name):
    store = Store(tmp_path / "state", "acme-message")
    coverage = Coverage(Timing(), watermark=T0)
    store.journal([("a", T0)])
    fault(name)
    coverage.acknowledge([("b", T0 + 1), ("c", T0 + 2)])
    with pytest.raises(StorageError, match=rf"seen.log: .*\({name}\)"):
        store.journal([("b", T0 + 1), ("c", T0 + 2)])
    journal = tmp_path / "state" / "acme-message" / "seen.log"
    assert journal.read_text() == f"{T0} a\n"  # the half the hook let through is cut off again
    with pytest.raises(StorageError):
        store.commit(coverage)
    assert not (tmp_path / "state" / "acme-message" / "checkpoint.json").exists()
    fault(None)
    store.commit(coverage)
    assert journal.read_text() == f"{T0} a\n{T0 + 1} b\n{T0 + 2} c\n"
    reloaded = Store(tmp_path / "state", "acme-message").load(Timing(), T0 + H, 0)
    assert all(reloaded.seen.remembers(event_id, T0 + n) for n, event_id in enumerate("abc"))


def test_a_failed_checkpoint_keeps_the_last_one_and_leaves_no_temp_file(tmp_path, fault):
    store = Store(tmp_path, "acme-message")
    coverage = Coverage(Timing(), watermark=T0)
    store.commit(coverage)
    before = (tmp_path / "acme-message" / "checkpoint.json").read_text()
    coverage.acknowledge([("a", T0 + H)])
    fault("EIO")
    with pytest.raises(StorageError, match=r"checkpoint.json.tmp: .*\(EIO\)"):
        store.commit(coverage)
    assert (tmp_path / "acme-message" / "checkpoint.json").read_text() == before
    assert [path.name for path in (tmp_path / "acme-message").iterdir()] == ["checkpoint.json"]


def test_a_failed_dead_letter_leaves_no_torn_line(tmp_path, fault):
    store = Store(tmp_path, "acme-message")
    store.dead_letter("not JSON", b"{broken")
    fault("ENOSPC")
    with pytest.raises(StorageError, match=r"deadletter.jsonl: .*\(ENOSPC\)"):
        store.dead_letter("not JSON", b"{broken again")
    fault(None)
    store.dead_letter("not JSON", b"{and again")
    lines = (tmp_path / "acme-message" / "deadletter.jsonl").read_text().splitlines()
    assert [json.loads(line)["frame"] for line in lines] == ["{broken", "{and again"]


def test_a_first_start_saves_where_its_backfill_starts_before_anything_else(tmp_path):
    """A first start killed before its first batch must not hand its successor, whose clock is
    later, a backfill that starts later: the events in between would never be fetched."""
    values = options(
        OPTIONS, alias="acme-message", tenant="acme", cluster_id="c", api_key="k", type="message"
    )

    async def emit(item):
        raise AssertionError("nothing is emitted here")

    first = ProofpointInput(values, tmp_path, emit).load(T0)
    assert first.watermark == T0 - 7 * 24 * H  # the shipped default: a 7-day backfill
    later = ProofpointInput(values, tmp_path, emit).load(T0 + H)  # a restart, an hour later
    assert later.watermark == first.watermark and later.holes[0].start <= first.watermark
