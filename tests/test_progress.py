"""The progress line: a time left only from measured archive sessions, counts as sentences."""

from podship.core.units import counted, render_span
from podship.inputs.progress import Progress


def test_no_time_left_is_said_before_a_complete_archive_session_was_measured():
    progress = Progress()
    assert progress.line("backfill", 0, 24, 24, "") == "backfill: 0 archive hours done, 24 to go"


def test_the_time_left_is_the_hours_to_go_at_the_measured_cost_of_an_hour():
    progress = Progress()
    progress.measured(hours=2, secs=10.0, events=5000)
    progress.measured(hours=1, secs=5.0, events=2500)
    assert progress.line("backfill", 3, 4, 4, "") == (
        "backfill: 3 archive hours done, 4 to go, 500 events/s, about 20s left"
    )
    # Hours the archive does not hold yet are not in the estimate: they wait for it, not for us.
    assert progress.line("backfill", 3, 4, 1, "") == (
        "backfill: 3 archive hours done, 4 to go, 500 events/s, about 5s left for the 1 due now"
    )
    assert progress.line("repair", 1, 0, 0, "") == "repair: 1 archive hour done, 0 to go, 500 events/s"


def test_counts_and_spans_read_as_people_write_them():
    assert [counted(n, "hole") for n in (0, 1, 2)] == ["0 holes", "1 hole", "2 holes"]
    assert [render_span(s) for s in (0.2, 20, 375, 7800)] == ["1s", "20s", "6m15s", "2h10m"]
