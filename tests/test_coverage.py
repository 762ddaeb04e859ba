"""The coverage core: holes, archive planning, deduplication, checkpoints."""

from podship.core.coverage import Archive, Coverage, Hole, Live, Timing
from podship.core.seen import Seen

H = 3_600_000
M = 60_000
T0 = 1000 * H  # an hour boundary


def seen(ids):
    remembered = Seen()
    for event_id, ts in ids.items():
        remembered.add(event_id, ts)
    return remembered


TIMING = Timing()  # the shipped defaults: reorder 5 min, archive delay 1 h, resume 50 min, lag 30 min


def holes(coverage):
    return [(hole.start, hole.end) for hole in coverage.holes]


def test_a_first_start_fetches_the_seam_early_then_the_complete_hours_then_each_seam_hour_again():
    now = T0 + 30 * M
    coverage = Coverage.fresh(TIMING, now, backfill_ms=3 * H)
    coverage.live_opened(now)
    assert holes(coverage) == [(T0 - 150 * M, T0 + 35 * M)]
    # T0-1h and T0 are not complete in the archive, but it holds part of them: fetched first.
    assert coverage.next_action(now) == Archive(T0 - H, T0 + H)
    coverage.archive_fetched(Archive(T0 - H, T0 + H), opened_at=now)
    assert holes(coverage) == [(T0 - 150 * M, T0 - H), (T0 - 30 * M, T0 + 35 * M)]
    # The complete hours in one window; what the archive held completely is repaired.
    assert coverage.next_action(now) == Archive(T0 - 3 * H, T0 - H)
    coverage.archive_fetched(Archive(T0 - 3 * H, T0 - H), opened_at=now)
    assert holes(coverage) == [(T0 - 30 * M, T0 + 35 * M)]
    # Each seam hour once more, an archive delay after the hole's end in it.
    assert coverage.next_action(now) == Live(until=T0 + H)
    assert coverage.next_action(T0 + H) == Archive(T0 - H, T0)
    coverage.archive_fetched(Archive(T0 - H, T0), opened_at=T0 + H)
    assert coverage.next_action(T0 + H) == Live(until=T0 + 95 * M)
    coverage.archive_fetched(Archive(T0, T0 + H), opened_at=T0 + 95 * M)
    assert holes(coverage) == []
    assert coverage.next_action(T0 + 95 * M) == Live(until=None)


def test_a_drop_in_live_is_fetched_once_the_archive_holds_the_hole_whole():
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0 + 10 * M, T0 + 16 * M)])
    # early: 30 minutes after the hole starts; final: an hour after it ends
    assert coverage.next_action(T0 + 20 * M) == Live(until=T0 + 40 * M)
    assert coverage.next_action(T0 + 40 * M) == Archive(T0, T0 + H)
    coverage.archive_fetched(Archive(T0, T0 + H), opened_at=T0 + 40 * M)
    assert coverage.next_action(T0 + 40 * M) == Live(until=T0 + 76 * M)
    coverage.archive_fetched(Archive(T0, T0 + H), opened_at=T0 + 76 * M)
    assert holes(coverage) == []


def test_a_window_cut_short_repairs_what_came_before_the_cut():
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0 - 5 * H, T0 - 2 * H)])
    window = coverage.next_action(T0)
    assert window == Archive(T0 - 5 * H, T0 - 2 * H)
    coverage.archive_fetched(window, opened_at=T0, reached=T0 - 4 * H + 20 * M)
    assert holes(coverage) == [(T0 - 4 * H + 20 * M, T0 - 2 * H)]
    assert coverage.next_action(T0) == Archive(T0 - 4 * H, T0 - 2 * H)


def test_holes_never_overlap_and_an_inverted_one_is_dropped():
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0, T0 + 10 * M), Hole(T0 + 5 * M, T0 + 20 * M)])
    coverage.live_closed(T0 + 30 * M, clean=False)
    coverage.live_opened(T0 - 2 * H)  # the server's clock stepped back two hours
    assert holes(coverage) == [(T0, T0 + 20 * M), (T0 + 25 * M, T0 + 30 * M)]
    assert coverage.problems() == []


def test_an_abnormal_drop_opens_a_hole_from_the_last_event_that_closes_at_the_next_live_start():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    assert coverage.admit("a", T0 + 10 * M)
    coverage.saw(T0 + 10 * M)
    coverage.live_closed(T0 + 11 * M, clean=False)
    assert holes(coverage) == [(T0 + 5 * M, None)]
    coverage.live_opened(T0 + 12 * M)
    assert holes(coverage) == [(T0 + 5 * M, T0 + 17 * M)]


def test_a_drop_before_any_event_opens_the_hole_at_the_session_start():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0 + M)
    coverage.live_closed(T0 + 2 * M, clean=False)
    assert holes(coverage) == [(T0 - 4 * M, None)]


def test_a_clean_close_resumes_exactly_within_the_resume_window():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    coverage.live_closed(T0 + M, clean=True)
    coverage.live_opened(T0 + 51 * M)
    assert holes(coverage) == []


def test_a_clean_close_longer_than_the_resume_window_is_a_hole():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    coverage.live_closed(T0 + M, clean=True)
    coverage.live_opened(T0 + 52 * M)
    assert holes(coverage) == [(T0 - 4 * M, T0 + 57 * M)]


def test_a_window_splits_a_hole_that_spans_several_hours():
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0 + 30 * M, T0 + 2 * H + 10 * M)])
    coverage.archive_fetched(Archive(T0 + H, T0 + 2 * H), opened_at=T0 + 5 * H)
    assert holes(coverage) == [(T0 + 30 * M, T0 + H), (T0 + 2 * H, T0 + 2 * H + 10 * M)]
    coverage.archive_fetched(Archive(T0, T0 + 3 * H), opened_at=T0 + 5 * H)
    assert holes(coverage) == []


def test_a_window_on_an_open_hole_keeps_it_open_after_the_window():
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0 + 30 * M)])
    coverage.archive_fetched(Archive(T0, T0 + H), opened_at=T0 + 5 * H)
    assert holes(coverage) == [(T0 + H, None)]


def test_duplicates_are_refused_while_pending_and_after_acknowledgement():
    coverage = Coverage(TIMING, watermark=T0)
    assert coverage.admit("a", T0 + 1)
    assert not coverage.admit("a", T0 + 1)
    coverage.acknowledge([("a", T0 + 1)])
    assert not coverage.admit("a", T0 + 1)
    assert len(coverage.seen) == 1 and coverage.seen.remembers("a", T0 + 1)
    assert coverage.pending == {}


def test_the_watermark_never_passes_an_unacknowledged_event():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.admit("old", T0 + 1 * M)
    coverage.admit("new", T0 + 9 * M)
    coverage.acknowledge([("new", T0 + 9 * M)])
    assert coverage.safe_point() == T0 + M
    assert coverage.snapshot()["watermark"] == T0 + M
    coverage.acknowledge([("old", T0 + M)])
    assert coverage.safe_point() == T0 + 9 * M


def test_a_crash_restart_makes_everything_since_the_watermark_a_hole():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    coverage.admit("a", T0 + 20 * M)
    coverage.acknowledge([("a", T0 + 20 * M)])
    snapshot = coverage.snapshot()
    assert snapshot == {
        "version": 1,
        "watermark": T0 + 20 * M,
        "holes": [],
        "clean_close_at": None,
        "fetched_early": [],
    }
    restored = Coverage.restore(TIMING, snapshot, seen({"a": T0 + 20 * M}))
    assert holes(restored) == [(T0 + 15 * M, None)]
    assert not restored.admit("a", T0 + 20 * M)


def test_a_drained_shutdown_resumes_live_without_a_hole():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    coverage.live_closed(T0 + 5 * M, clean=True)
    snapshot = coverage.snapshot(clean_close=True)
    assert snapshot["clean_close_at"] == T0 + 5 * M
    restored = Coverage.restore(TIMING, snapshot, Seen())
    assert holes(restored) == []
    restored.live_opened(T0 + 10 * M)
    assert holes(restored) == []


def test_an_hour_fetched_early_is_not_fetched_early_again_after_a_restart():
    """The early fetch is once per hour: the checkpoint keeps it, so cron's `run --once` every 15
    minutes does not download the seam hour again each run; the final fetch still comes."""
    now = T0 + 40 * M
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0 + 5 * M, T0 + 10 * M)])
    assert coverage.next_action(now) == Archive(T0, T0 + H)
    coverage.archive_fetched(Archive(T0, T0 + H), opened_at=now)
    coverage.live_opened(now)
    coverage.live_closed(now + M, clean=True)
    snapshot = coverage.snapshot(clean_close=True)
    assert snapshot["fetched_early"] == [[T0, now]]
    restored = Coverage.restore(TIMING, snapshot, Seen())
    assert restored.next_action(now + 2 * M) == Live(until=T0 + 70 * M)
    assert restored.next_action(T0 + 70 * M) == Archive(T0, T0 + H)


def test_a_checkpoint_without_early_fetches_still_loads():
    old = {"version": 1, "watermark": T0, "holes": [[T0, T0 + M]], "clean_close_at": T0 + M}
    assert Coverage.restore(TIMING, old, Seen()).next_action(T0 + 40 * M) == Archive(T0, T0 + H)


def test_a_shutdown_with_records_in_flight_is_not_clean():
    coverage = Coverage(TIMING, watermark=T0)
    coverage.live_opened(T0)
    coverage.admit("a", T0 + M)
    coverage.live_closed(T0 + 5 * M, clean=True)
    assert coverage.snapshot(clean_close=True)["clean_close_at"] is None


def test_restore_refuses_an_unknown_checkpoint_version():
    try:
        Coverage.restore(TIMING, {"version": 99, "watermark": 0, "holes": []}, Seen())
    except ValueError as exc:
        assert "version 99" in str(exc)
    else:
        raise AssertionError("an unknown version must not be read as ours")


def test_ids_are_kept_as_long_as_a_repair_can_bring_their_hour_back():
    coverage = Coverage(TIMING, watermark=T0 + 2 * H, holes=[Hole(T0 + 90 * M, T0 + 100 * M)])
    coverage.seen = seen({"ancient": T0 - M, "kept": T0 + 10 * M, "recent": T0 + 2 * H})
    assert coverage.retain_from() == T0
    assert coverage.prune() == 1
    assert len(coverage.seen) == 2
    assert coverage.seen.remembers("kept", T0 + 10 * M) and coverage.seen.remembers("recent", T0 + 2 * H)
    assert not coverage.seen.remembers("ancient", T0 - M)


def test_hours_beyond_the_archive_retention_are_counted_not_fetched():
    now = T0 + 31 * 24 * H
    coverage = Coverage(TIMING, watermark=T0, holes=[Hole(T0, T0 + 24 * H + 2 * H)])
    action = coverage.next_action(now)
    oldest = T0 + 24 * H + H  # the first hour the archive still holds, with an hour of margin
    assert action == Archive(oldest, T0 + 26 * H)
    assert coverage.unrecoverable_ms == oldest - T0
    assert holes(coverage) == [(oldest, T0 + 26 * H)]


def test_pruning_forgets_whole_hours():
    coverage = Coverage(TIMING, watermark=T0 + 2 * H)
    coverage.seen = seen({"old": T0 - 2 * H, "older": T0 - 3 * H + 1, "kept": T0 + 10 * M})
    assert coverage.retain_from() == T0
    assert coverage.prune() == 2
    assert coverage.prune() == 0
    assert len(coverage.seen) == 1
    coverage.watermark = T0 + 3 * H
    assert coverage.prune() == 1
    assert len(coverage.seen) == 0


def test_hours_to_repair_counts_each_hour_once_across_holes():
    coverage = Coverage(
        TIMING, watermark=T0, holes=[Hole(T0 + 10 * M, T0 + H + 5 * M), Hole(T0 + 50 * M, T0 + 70 * M)]
    )
    assert coverage.hours_to_repair(T0 + 3 * H) == 2
    coverage.holes.append(Hole(T0 + 2 * H + M))  # open: up to now
    assert coverage.hours_to_repair(T0 + 3 * H + 30 * M) == 2 + 2


def test_hours_overdue_are_those_the_archive_holds_whole():
    coverage = Coverage(
        TIMING, watermark=T0, holes=[Hole(T0 + 10 * M, T0 + H + 5 * M), Hole(T0 + 50 * M, T0 + 70 * M)]
    )
    # Hour T0 is whole in the archive an hour after its part of the holes ends (T0+1h), hour T0+1h at
    # T0+2h10m: before that an hour is awaited, not overdue.
    assert coverage.hours_overdue(T0 + H + 30 * M) == 0
    assert coverage.hours_overdue(T0 + 2 * H) == 1
    assert coverage.hours_overdue(T0 + 2 * H + 10 * M) == 2
    coverage.holes.append(Hole(T0 + 3 * H))  # open: an outage that goes on; its hours fall due
    assert coverage.hours_overdue(T0 + 5 * H + 30 * M) == 2 + 1
