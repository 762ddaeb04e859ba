"""The connector core without I/O: scheduling (backoff, release waits, repairs) and frames.

Both clocks are passed in, so minutes of retries run in microseconds, with the shipped defaults.
"""

import json
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podship.core.connector import Connector, Ended, Settings, Wait
from podship.core.coverage import Archive, Coverage, Hole, Live, Timing
from podship.core.pod import format_ts, handshake_error
from podship.core.retry import Backoff, backoff
from podship.errors import StreamError
from podship.inputs.proofpoint_words import words

H, M = 3_600_000, 60_000
T0 = 1000 * H
EVENT = json.dumps({"guid": "g1", "ts": "2001-09-09T01:46:40.000000+0000"}).encode()


def core(**settings):
    return Connector(
        "message", {"tenant_name": "t", "connector": "c"}, Settings(**settings), lambda: 1.0, 0.0
    )


def logged(notes):
    """The notes as the shell logs them: (level, line)."""
    return [(note.level, words(note)) for note in notes]


def live(connector, now=T0, mono=0.0):
    """Open a live session on a coverage with no holes; returns when the core would close it."""
    coverage = connector.coverage or Coverage(Timing(), watermark=now)
    assert connector.plan(now, mono) == Live(None) or isinstance(connector.plan(now, mono), Live)
    return connector.opened_live(coverage, now)


def test_backoff_doubles_with_jitter_and_caps():
    assert backoff(0, 2, 60, 1.0) == 2
    assert backoff(0, 2, 60, 0.0) == 1
    assert backoff(3, 2, 60, 1.0) == 16
    assert backoff(10, 2, 60, 1.0) == 60
    assert backoff(10_000, 2, 60, 0.5) == 45
    retry = Backoff(2, 60)
    assert [retry.failed(1.0) for _ in range(3)] == [2, 4, 8]
    retry.progressed()
    assert retry.failed(1.0) == 2


def test_a_drop_after_frames_reconnects_at_once_and_failures_in_a_row_back_off():
    connector = core()
    live(connector)
    connector.receive(EVENT)
    notes = connector.ended(Ended.DROPPED, T0 + M, 100.0, "stream: connection lost (1006)")
    assert logged(notes) == [(logging.INFO, "stream: connection lost (1006); reconnecting in 0.0s")]
    assert isinstance(connector.plan(T0 + M, 100.0), Live)
    # the next connection fails, and the next: 2 s, then 4 s (jitter fraction 1.0)
    connector.refused(StreamError("cannot connect to pod: refused"), 100.0)
    assert connector.plan(T0 + M, 100.0) == Wait(2.0, "backoff")
    connector.refused(StreamError("cannot connect to pod: refused"), 102.0)
    assert connector.plan(T0 + M, 102.0) == Wait(4.0, "backoff")
    # a session that brings a new event is progress: the next failure starts from the minimum again
    live(connector, T0 + 2 * M, 106.0)
    connector.receive(event("g2"))
    connector.ended(Ended.DROPPED, T0 + 2 * M, 200.0, "lost")
    connector.refused(StreamError("refused"), 200.0)
    assert connector.plan(T0 + 3 * M, 200.0) == Wait(2.0, "backoff")


def event(guid):
    return json.dumps({"guid": guid, "ts": "2001-09-09T01:46:40.000000+0000"}).encode()


def test_sessions_that_bring_only_duplicates_back_off_and_are_said_once_then_summarised():
    """Elastic's PoD mock: one event, then the TCP connection closes without a close frame, every
    session. Frames arrive, but nothing new: failures, with backoff, not a reconnect storm."""
    connector, mono, waits, notes = core(), 0.0, [], []
    for n in range(12):
        live(connector, T0, mono)
        connector.receive(EVENT)
        notes += logged(connector.ended(Ended.DROPPED, T0, mono, "stream: connection lost (1006)"))
        waits.append(connector.plan(T0, mono).seconds if n else 0.0)
        mono += 600.0 if n == 9 else waits[-1]
    assert waits == [0.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0, 60.0, 60.0, 60.0, 60.0]
    levels = [level for level, _ in notes]  # the first session brought g1: progress
    assert levels[:4] == [logging.INFO, logging.INFO, logging.INFO, logging.WARNING]
    assert levels[4:10] == [logging.DEBUG] * 6 and levels[10] == logging.INFO and levels[11] == logging.DEBUG
    said = notes[3][1]
    assert said.startswith("the server closes every session after the same event (g1): 3 sessions")
    assert notes[10][1].startswith("still: 10 sessions in a row brought nothing new")
    assert connector.quiet
    live(connector, T0, mono)
    connector.receive(event("g2"))  # new events again: said, and the backoff starts over
    assert logged(connector.ended(Ended.DROPPED, T0, mono, "lost"))[0] == (
        logging.INFO,
        "new events again, after 11 sessions in a row that brought none",
    )
    assert connector.plan(T0, mono) == Live(None) and not connector.quiet


def test_a_live_session_the_server_ends_cleanly_with_nothing_new_is_a_failure_too():
    connector = core()
    live(connector)
    assert logged(connector.ended(Ended.COMPLETE, T0, 5.0)) == [
        (logging.INFO, "the server ended the session; reconnecting in 2.0s")
    ]
    assert connector.plan(T0, 5.0) == Wait(2.0, "backoff")


def test_a_long_quiet_session_that_drops_reconnects_at_once():
    """A quiet tenant: nothing new for an hour, then a drop. Reconnecting at once cannot hammer."""
    connector = core()
    live(connector)
    connector.ended(Ended.DROPPED, T0 + H, 3600.0, "lost")
    assert not isinstance(connector.plan(T0 + H, 3600.0), Wait)


def test_a_drop_without_any_frame_is_a_failure_that_backs_off():
    connector = core()
    live(connector)
    connector.ended(Ended.DROPPED, T0, 50.0, "lost")
    assert connector.plan(T0, 50.0) == Wait(2.0, "backoff")


def test_a_409_right_after_our_own_session_is_the_release_not_an_error():
    connector = core()
    live(connector)
    connector.ended(Ended.CLOSED, T0 + M, 10.0)  # we closed it for a repair
    steps = []
    mono = 10.0
    for _ in range(6):
        ((level, text),) = logged([connector.refused(handshake_error(409), mono)])
        assert level == logging.DEBUG and "not released our last session yet" in text
        wait = connector.plan(T0 + M, mono)
        steps.append(wait.seconds)
        mono += wait.seconds
    assert steps == [0.25, 0.5, 0.5, 0.5, 0.5, 0.5]
    stats = connector.stats
    assert (stats.release_waits, stats.refusals, stats.reconnects, stats.last_error) == (6, 0, 0, "")


def test_a_409_that_outlasts_the_release_wait_is_another_collector_said_once():
    connector = core()
    live(connector)
    connector.ended(Ended.CLOSED, T0, 0.0)
    ((level, text),) = logged([connector.refused(handshake_error(409), 31.0)])  # release_wait: 30 s
    assert level == logging.WARNING
    assert "another connector or collector holds this API key for type message" in text
    assert connector.plan(T0, 31.0) == Wait(2.0, "backoff")
    level = connector.refused(handshake_error(409), 33.0).level
    assert level == logging.DEBUG  # said once
    assert connector.stats.refusals == 2
    assert connector.plan(T0, 33.0) == Wait(4.0, "backoff")


def test_a_409_at_start_may_be_our_previous_process_session():
    connector = core()
    assert connector.refused(handshake_error(409), 5.0).level == logging.DEBUG


def test_the_live_session_closes_when_a_repair_is_due_and_an_archive_window_follows():
    connector = core()
    coverage = Coverage(Timing(), watermark=T0, holes=[Hole(T0 - 3 * H, T0 - 2 * H)])
    assert connector.opened_live(coverage, T0) == T0  # a complete hour is due now: close at once
    connector.ended(Ended.CLOSED, T0, 1.0)
    window = connector.plan(T0, 1.0)
    assert window == Archive(T0 - 3 * H, T0 - 2 * H)
    connector.opened_archive(window, T0)
    assert not connector.early(window)
    connector.ended(Ended.COMPLETE, T0, 2.0)
    assert coverage.holes == []
    assert connector.stats.archive_hours == 1


def test_an_archive_window_cut_off_keeps_what_came_before_the_cut():
    connector = core()
    coverage = Coverage(Timing(), watermark=T0, holes=[Hole(T0 - 5 * H, T0 - 3 * H)])
    connector.opened_live(coverage, T0)
    connector.ended(Ended.CLOSED, T0, 1.0)
    window = connector.plan(T0, 1.0)
    connector.opened_archive(window, T0)
    frame = {"guid": "a", "ts": format_ts(T0 - 4 * H + 30 * M)}
    connector.receive(json.dumps(frame).encode())
    connector.ended(Ended.DROPPED, T0, 2.0, "lost")
    assert [(h.start, h.end) for h in coverage.holes] == [(T0 - 4 * H + 25 * M, T0 - 3 * H)]


def test_frames_become_records_duplicates_nothing_and_junk_dead_letters():
    connector = core()
    live(connector)
    first = connector.receive(EVENT)
    assert first.event is not None and first.event_id == "g1" and first.ts == 1_000_000_000_000
    assert connector.receive(EVENT).event is None  # pending: a duplicate
    assert connector.receive(b"").reason == ""
    assert connector.receive(b"[1]").reason == "not a JSON object but a list"
    stats = connector.stats
    assert (stats.events, stats.duplicates, stats.empty_frames, stats.dead_letters) == (1, 1, 1, 1)


# --- invariants under any clock ---------------------------------------------------------------

STEPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["live", "frame", "drop", "close", "archive", "cut", "ack", "refuse409", "refuse503"]
        ),
        st.integers(-6 * H, 6 * H),  # the server clock steps by up to six hours either way
        st.integers(-2 * H, 2 * H),  # event times wander from the server clock
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(STEPS)
def test_holes_stay_well_formed_and_the_watermark_never_moves_back_whatever_the_clocks(steps):
    connector, now, mono, serial = core(), T0, 0.0, 0
    coverage = Coverage.fresh(Timing(), now, 2 * H)
    pending = []
    for step, jump, skew in steps:
        now, mono, serial = now + jump, mono + 1.0, serial + 1
        watermark = coverage.watermark
        action = connector.plan(now, mono) if connector.session is None else None  # between sessions
        if step == "live" and connector.session is None:
            connector.opened_live(coverage, now)
        elif step in ("archive", "cut") and connector.session is None and isinstance(action, Archive):
            connector.opened_archive(action, now)
        elif step == "frame" and connector.session is not None:
            received = connector.receive(
                json.dumps({"guid": f"g{serial}", "ts": format_ts(now + skew)}).encode()
            )
            pending += [(received.event_id, received.ts)] if received.event else []
        elif step in ("drop", "close", "cut") and connector.session is not None:
            how = {"drop": Ended.DROPPED, "close": Ended.CLOSED, "cut": Ended.DROPPED}[step]
            connector.ended(how, now, mono, "lost")
        elif step == "ack" and pending:
            connector.acknowledged(pending[: len(pending) // 2 + 1])
            pending = pending[len(pending) // 2 + 1 :]
        elif step.startswith("refuse") and connector.session is None:
            connector.refused(handshake_error(int(step[-3:])), mono)
        assert coverage.problems() == [], coverage.holes
        assert coverage.watermark >= watermark
        assert all(hole.end is None or hole.start < hole.end for hole in coverage.holes)
        if isinstance(action, Archive):
            assert action.since < action.to and action.since % H == 0 and action.to % H == 0
        if isinstance(action, Wait):
            assert 0 < action.seconds <= 60
