"""The connector core's state and its legal call order, in one table, as h11's `_state.py` keeps.

The core is driven by its shell in one order: `plan`, then open a session (`opened_live` or
`opened_archive`) or report that opening failed (`refused`); frames (`receive`) while the session
is open; `ended` when it is over; `close` when the shell is done. Each call that depends on that
order looks itself up here: a call the table does not list for the current state is a bug in the
shell, raised as `CallOrderError` whatever `python -O` does to asserts (the asserts it replaces
would have let a frame with no session open fail later, as an AttributeError on None).
"""

from __future__ import annotations

import enum
from typing import Literal

from podship.errors import CallOrderError


class State(enum.Enum):
    """Where one connector is; `/status` reports its value per connector."""

    STARTING = "starting"  # no session yet: the server's clock, and so the coverage, is unknown
    WAITING = "waiting"  # between sessions: `plan` says what to open next, or how long to wait
    LIVE = "live"  # a live session is open
    ARCHIVE = "archive"  # an archive window is open
    CLOSED = "closed"  # the shell is done with it: stopped, caught up (`--once`), or failed for good


Call = Literal["plan", "refused", "opened_live", "opened_archive", "early", "receive", "ended", "close"]

STARTING, WAITING, LIVE, ARCHIVE, CLOSED = State
# call -> {a state it is legal in: the state it leads to}
TRANSITIONS: dict[Call, dict[State, State]] = {
    "plan": {STARTING: STARTING, WAITING: WAITING},
    "refused": {STARTING: STARTING, WAITING: WAITING},  # a refusal before any handshake: still starting
    "opened_live": {STARTING: LIVE, WAITING: LIVE},
    "opened_archive": {WAITING: ARCHIVE},  # archive windows are planned only once the clock is known
    "early": {ARCHIVE: ARCHIVE},
    "receive": {LIVE: LIVE, ARCHIVE: ARCHIVE},
    "ended": {LIVE: WAITING, ARCHIVE: WAITING},
    # Closing is always allowed, as closing a socket is: a shell that stops on a failure it cannot
    # retry (even this error) must still be able to say it is done.
    "close": dict.fromkeys(State, CLOSED),
}


def after(state: State, call: Call) -> State:
    """The state that `call` leads to from `state`; CallOrderError if it is not legal there."""
    legal = TRANSITIONS[call]
    if state not in legal:
        allowed = " or ".join(each.value for each in legal)
        raise CallOrderError(f"{call}() while the connector is {state.value}: legal only when {allowed}")
    return legal[state]
