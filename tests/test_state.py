"""The files of one connector: the id journal and its compaction, on a real directory."""

from podship.core.coverage import Coverage, Timing
from podship.runtime.state import Store

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


def test_a_torn_last_line_is_skipped(tmp_path):
    store = Store(tmp_path, "acme-message")
    (tmp_path / "acme-message" / "seen.log").write_bytes(f"{T0} a\n{T0} b\n{T0}".encode())
    coverage = store.load(Timing(), T0 + H, 0)
    assert len(coverage.seen) == 2 and coverage.seen.remembers("b", T0)
