"""The one exception root of podship.

Errors say whether retrying can help (`retryable`) instead of relying on long isinstance chains,
and each shell maps third-party exceptions to these in exactly one place.
"""

from __future__ import annotations

import errno


class PodshipError(Exception):
    """Root of every error podship raises on purpose."""

    retryable = False


class ConfigError(PodshipError):
    """A configuration mistake: names the file, the plugin and the option involved."""

    def __init__(self, problem: str, *, file: str = "", plugin: str = "", option: str = "") -> None:
        self.problem, self.file, self.plugin, self.option = problem, file, plugin, option
        super().__init__(self.render())

    def render(self) -> str:
        where = [self.file or "<config>"]
        if self.plugin:
            where.append(f"plugin {self.plugin!r}")
        if self.option:
            where.append(f"option {self.option!r}")
        return ": ".join([*where, self.problem])

    def located(self, *, file: str = "", plugin: str = "") -> ConfigError:
        """The same error with the file or plugin filled in where it was not known yet."""
        return ConfigError(
            self.problem,
            file=self.file or file,
            plugin=self.plugin or plugin,
            option=self.option,
        )


class HandshakeError(PodshipError):
    """The PoD server refused the WebSocket upgrade with an HTTP status."""

    def __init__(self, status: int, meaning: str, check: str, retryable: bool) -> None:
        self.status, self.meaning, self.check = status, meaning, check
        self.retryable = retryable
        super().__init__(f"HTTP {status}: {meaning}" + (f" {check}" if check else ""))


class StreamError(PodshipError):
    """The connection broke (network error, abnormal close); always worth a retry."""

    retryable = True


class CallOrderError(PodshipError):
    """A sans-I/O core was called out of its order (a frame with no session open, an archive window
    opened before the server's clock is known): a bug in the shell that drives it, never a fault of
    the network or the data. Like h11's `LocalProtocolError` and websockets' `InvalidState`, it is
    the project's own error, raised whatever `python -O` does to asserts; not retryable, since the
    same call in the same state fails the same way."""


class StorageError(PodshipError):
    """State could not be written (a full disk, a quota, an I/O error, a read-only filesystem).
    Retryable: podship holds the pipeline back and tries again until the disk takes it."""

    retryable = True

    def __init__(self, path: str, error: OSError) -> None:
        self.path, self.errno = path, error.errno
        code = errno.errorcode.get(error.errno or 0, "")
        super().__init__(f"cannot write {path}: {error.strerror or error}" + (f" ({code})" if code else ""))


class OutputError(PodshipError):
    """An output could not deliver a batch."""

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        self.retryable = retryable
        super().__init__(message)


class RecordError(PodshipError):
    """One record an output cannot send as it is (over a size limit): set aside, never retried."""


class ReaderClosed(OutputError):
    """The reader of stdout closed it (`podship run | head`): nothing can be delivered any more, so
    the process ends at once, quietly, with exit 0. `written` counts, per connector, the records of
    the batch that reached the reader whole (not acknowledged: the next start ships them again)."""

    def __init__(self, written: dict[str, int]) -> None:
        super().__init__("stdout: the reader closed it", retryable=False)
        self.written = written
