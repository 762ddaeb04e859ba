"""What `podship check` and a start verify on this host beyond the file's own shape: that the files
it names can be read and that the state directory can be used, so that `run` refuses nothing that
`check` passed (an address already in use can only be found by listening on it)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from podship.engine.config import PATH_OPTIONS, listen_address
from podship.engine.registry import PLUGINS
from podship.engine.settings import PipelineConfig, PluginConfig
from podship.errors import ConfigError

FILE_OPTIONS = tuple(name for name in PATH_OPTIONS if name != "state_dir")


def verify(config: PipelineConfig) -> None:
    """ConfigError (file, plugin, option) for the first thing a start would trip on."""
    _state_dir(Path(config.service.state_dir), config.file)
    if config.service.http_listen:
        _resolves(*listen_address(config.service.http_listen), config.file, "service", "http_listen")
    for section in ("inputs", "filters", "outputs"):
        for plugin in getattr(config, section):
            described = PLUGINS[section][plugin.name]
            listens = described.listening(plugin.values)
            if listens is not None:
                _resolves(*listens[:2], config.file, plugin.name, listens[2])
            _files(plugin, described.options.mapping(plugin.values), config.file)


def _state_dir(path: Path, file: str) -> None:
    """A directory we can write, or one we can create: its nearest existing parent is writable."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    problem = ""
    if not existing.is_dir():
        problem = f"{existing} is not a directory"
    elif not os.access(existing, os.W_OK | os.X_OK):
        problem = f"{existing} is not writable by this user"
    if problem:
        raise ConfigError(
            f"cannot use {path} as the state directory: {problem}",
            file=file,
            plugin="service",
            option="state_dir",
        )


def _resolves(host: str, port: int, file: str, plugin: str, option: str) -> None:
    """A listen address must be an address of this host or a name that resolves (whether its port
    is free is known only by listening, at the start)."""
    try:
        socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (OSError, UnicodeError) as exc:
        problem = f"cannot listen on {host!r}: {getattr(exc, 'strerror', None) or exc}"
        raise ConfigError(problem, file=file, plugin=plugin, option=option) from None


def _files(plugin: PluginConfig, values: dict[str, object], file: str) -> None:
    for option in FILE_OPTIONS:
        name = str(values.get(option) or "")
        if not name:
            continue
        path = Path(name)
        problem = "" if path.is_file() else "no such file" if not path.exists() else "not a regular file"
        if not problem and not os.access(path, os.R_OK):
            problem = "not readable by this user"
        if problem:
            raise ConfigError(f"{path}: {problem}", file=file, plugin=plugin.name, option=option)
