"""The connector core's call order as a state: the legal orders walk it, an illegal call is refused
with CallOrderError and leaves the state as it was, and every (state, call) pair does what the table
in core/connector_state.py says. The real core throughout, with both clocks passed in."""

import json

import pytest

from podship.core.connector import Connector, Ended, Settings, Wait
from podship.core.connector_notes import Reconnecting, ReleaseWait
from podship.core.connector_state import TRANSITIONS, State
from podship.core.coverage import Archive, Coverage, Hole, Live, Timing
from podship.core.pod import format_ts, handshake_error
from podship.errors import CallOrderError, PodshipError, StreamError

H = 3_600_000
T0 = 1000 * H
WINDOW = Archive(T0 - 3 * H, T0 - 2 * H)  # the hour of the hole below: the archive holds it whole
EVENT = json.dumps({"guid": "g1", "ts": format_ts(T0 - 60_000)}).encode()


def core():
    return Connector("message", {"tenant_name": "t", "connector": "c"}, Settings(), lambda: 1.0, 0.0)


def coverage():
    return Coverage(Timing(), watermark=T0, holes=[Hole(T0 - 3 * H, T0 - 2 * H)])


def reach(state):
    """A connector brought to `state` by legal calls only."""
    connector = core()
    if state is State.CLOSED:
        connector.close()
    elif state is not State.STARTING:
        connector.plan(T0, 0.0)
        connector.opened_live(coverage(), T0)
        if state is not State.LIVE:
            connector.ended(Ended.CLOSED, T0, 1.0)  # closed for the repair the hole needs
        if state is State.ARCHIVE:
            assert connector.plan(T0, 1.0) == WINDOW
            connector.opened_archive(WINDOW, T0)
    assert connector.state is state and connector.stats.state is state
    return connector


CALLS = {
    "plan": lambda c: c.plan(T0, 1.0),
    "refused": lambda c: c.refused(StreamError("cannot connect to pod: refused"), 1.0),
    "opened_live": lambda c: c.opened_live(c.coverage or coverage(), T0),
    "opened_archive": lambda c: c.opened_archive(WINDOW, T0),
    "early": lambda c: c.early(WINDOW),
    "receive": lambda c: c.receive(EVENT),
    "ended": lambda c: c.ended(Ended.CLOSED, T0, 1.0),
    "close": lambda c: c.close(),
}


def test_every_call_the_table_knows_is_driven_here():
    assert set(CALLS) == set(TRANSITIONS)


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
@pytest.mark.parametrize("call", sorted(CALLS))
def test_each_call_in_each_state_moves_as_the_table_says_or_is_refused_in_place(call, state):
    connector = reach(state)
    legal = TRANSITIONS[call]
    if state in legal:
        CALLS[call](connector)
        assert connector.state is legal[state]
    else:
        with pytest.raises(CallOrderError, match=rf"^{call}\(\) while the connector is {state.value}: "):
            CALLS[call](connector)
        assert connector.state is state


def test_the_order_the_shell_drives_live_then_a_repair_then_stop():
    connector, seen = core(), []

    def note(value):
        seen.append(connector.state)
        return value

    assert note(connector.plan(T0, 0.0)) == Live(None)  # the clock is unknown: live first, always
    assert note(connector.opened_live(coverage(), T0)) == T0  # a whole hour is due: close at once
    assert note(connector.receive(EVENT)).event is not None
    note(connector.ended(Ended.CLOSED, T0, 1.0))
    assert note(connector.plan(T0, 1.0)) == WINDOW
    note(connector.opened_archive(WINDOW, T0))
    assert not note(connector.early(WINDOW))
    note(connector.ended(Ended.COMPLETE, T0, 2.0))
    note(connector.close())
    starting, waiting, live, archive, closed = State
    assert seen == [starting, live, live, waiting, waiting, archive, archive, waiting, closed]


def test_a_refusal_keeps_the_state_starting_before_any_handshake_and_waiting_after_one():
    connector = core()
    assert isinstance(connector.refused(handshake_error(409), 5.0), ReleaseWait)  # our last process's
    assert connector.state is State.STARTING
    assert isinstance(connector.plan(T0, 5.0), Wait)
    connector = reach(State.WAITING)
    note = connector.refused(handshake_error(503), 3.0)
    assert isinstance(note, Reconnecting) and (note.streak, note.delay) == (1, 2.0)
    assert connector.state is State.WAITING


def test_the_orders_the_asserts_guarded_are_refused_with_a_clear_error():
    with pytest.raises(CallOrderError, match=r"^receive\(\) while the connector is starting: legal only"):
        core().receive(EVENT)  # a frame before any session
    with pytest.raises(CallOrderError, match=r"when waiting$"):
        core().opened_archive(WINDOW, T0)  # an archive window before the server's clock is known
    with pytest.raises(CallOrderError, match=r"^ended\(\) while the connector is waiting: "):
        reach(State.WAITING).ended(Ended.DROPPED, T0, 1.0, "lost")  # a session that ended twice
    with pytest.raises(CallOrderError, match=r"^opened_live\(\) while the connector is live: "):
        reach(State.LIVE).opened_live(coverage(), T0)  # a second session on top of the first
    with pytest.raises(CallOrderError, match=r"^awaiting\(\) before the first live session"):
        core().awaiting(T0)
    with pytest.raises(CallOrderError, match=r"^acknowledged\(\) before the first live session"):
        core().acknowledged([("g1", T0)])


def test_a_call_order_error_is_podships_own_and_not_retryable():
    """Like h11's LocalProtocolError and websockets' InvalidState: the project's own error, not a
    retry-me condition (the same call in the same state fails the same way)."""
    with pytest.raises(PodshipError) as raised:
        reach(State.CLOSED).plan(T0, 1.0)
    assert isinstance(raised.value, CallOrderError) and not raised.value.retryable


def test_after_a_close_only_acknowledgements_and_another_close_are_taken():
    """Stopping drains in-flight records after the input's loop has ended: their acknowledgements
    still move the checkpoint."""
    connector = reach(State.LIVE)
    received = connector.receive(EVENT)
    connector.ended(Ended.CLOSED, T0, 1.0)
    connector.close()
    connector.acknowledged([(received.event_id, received.ts)])
    assert connector.stats.delivered == 1
    connector.close()
    assert connector.state is State.CLOSED
