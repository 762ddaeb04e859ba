"""The one place where library exceptions (websockets, OSError, ssl, timeouts) become ours.

The input and both network outputs open connections through `mapped`, so a retry loop sees only
`StreamError` (the network broke: retry) or a `HandshakeError` (the server refused the upgrade,
with its status and whether retrying can help). `ssl.SSLError` is an `OSError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from websockets.exceptions import ConnectionClosedError, InvalidHandshake, InvalidStatus, InvalidURI

from podship.core.pod import handshake_error
from podship.errors import StreamError

_TRANSPORT = (OSError, TimeoutError, EOFError, InvalidHandshake, InvalidURI)


@contextlib.contextmanager
def mapped(what: str) -> Iterator[None]:
    """Run the block; a third-party network error leaves it as ours, `what` saying what failed."""
    try:
        yield
    except InvalidStatus as exc:
        raise handshake_error(exc.response.status_code) from None
    except ConnectionClosedError as exc:
        raise StreamError(f"{what}: connection lost ({exc.rcvd.code if exc.rcvd else 1006})") from None
    except _TRANSPORT as exc:
        raise StreamError(f"{what}: {str(exc) or type(exc).__name__}") from None
