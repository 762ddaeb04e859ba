"""Configuration text: files read with one clear line per failure, YAML, `${VAR}` expansion."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from podship.errors import ConfigError

VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: Any, env: Mapping[str, str]) -> Any:
    """`${VAR}` and `${VAR:-default}` in strings, recursively; a missing VAR is a KeyError."""
    if isinstance(value, str):
        return VARIABLE.sub(lambda m: _lookup(m, env), value)
    if isinstance(value, list):
        return [expand(item, env) for item in value]
    if isinstance(value, dict):
        return {key: expand(item, env) for key, item in value.items()}
    return value


def _lookup(match: re.Match[str], env: Mapping[str, str]) -> str:
    name, default = match.group(1), match.group(2)
    if name in env:
        return env[name]
    if default is not None:
        return default
    raise KeyError(name)


def read_text(path: str) -> str:
    """A configuration file's text; unreadable files become one clear line."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the file: {exc.strerror}", file=path) from None
    except UnicodeDecodeError:
        raise ConfigError("the file is not UTF-8 text", file=path) from None


def read_yaml(path: str) -> Any:
    """The parsed file; unreadable files and YAML errors become one clear line."""
    text = read_text(path)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"invalid YAML: {where}{problem}", file=path) from None
