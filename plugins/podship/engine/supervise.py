"""Tasks that outlive their own failures.

Only two things end podship: a configuration error (one line, at start) and a reader that closed
our stdout. Any other exception that escapes a task (a bug, a fault nobody foresaw) is said as one
ERROR line, its traceback at debug level, and the task runs again after a backoff of the one retry
policy; a task that ran a while before it failed starts that backoff again from the minimum.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

from podship.core.retry import Backoff

RESTART_MIN_SECS, RESTART_MAX_SECS = 1.0, 60.0
log = logging.getLogger("podship.pipeline")


async def supervised(name: str, run: Callable[[], Awaitable[None]]) -> None:
    """`run()` until it returns; again, after a backoff, whenever it raises."""
    retry = Backoff(RESTART_MIN_SECS, RESTART_MAX_SECS)
    while True:
        started = time.monotonic()
        try:
            await run()
            return
        except Exception as exc:  # the process must outlive it: said once, then run again
            if time.monotonic() - started > RESTART_MAX_SECS:
                retry.progressed()
            delay = retry.failed(random.random())
            log.error("%s failed (%s: %s); restarting it in %.1fs", name, type(exc).__name__, exc, delay)
            log.debug("the traceback of that failure", exc_info=exc)
        await asyncio.sleep(delay)
