"""One declarative options table per plugin.

From each table come validation (unknown keys, wrong types, ranges), `podship options` help and the
option tables in the README, so the three can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podship.core.units import parse_duration, parse_size, render_duration, render_size
from podship.errors import ConfigError


class Secret:
    """A value that must never reach a log line, an error, `ps` output or a repr."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "on", "yes", "1"}:
        return True
    if text in {"false", "off", "no", "0"}:
        return False
    raise ValueError(f"expected true or false, got {value!r}")


def _as_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError(f"expected a whole number, got {value!r}")


def _as_float(value: object) -> float:
    try:
        if not isinstance(value, bool) and isinstance(value, int | float | str):
            return float(value)
    except ValueError:
        pass
    raise ValueError(f"expected a number, got {value!r}")


def _as_str(value: object) -> str:
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return str(value)


def _as_secret(value: object) -> Secret:
    return value if isinstance(value, Secret) else Secret(_as_str(value))


def _as_list(value: object) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [_as_str(item) for item in items]


_CONVERTERS: dict[str, Callable[[object], Any]] = {
    "str": _as_str,
    "int": _as_int,
    "float": _as_float,
    "bool": _as_bool,
    "duration": parse_duration,
    "size": parse_size,
    "secret": _as_secret,
    "list": _as_list,
}


@dataclass(frozen=True)
class Option:
    """One option of one plugin: its name, type, default and a one-line description."""

    name: str
    type: str
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    required: bool = False

    @property
    def secret(self) -> bool:
        return self.type == "secret"

    def convert(self, raw: object) -> Any:
        try:
            value = _CONVERTERS[self.type](raw)
        except (TypeError, ValueError) as exc:
            raise ConfigError(str(exc), option=self.name) from None
        self._check_range(value)
        return value

    def _check_range(self, value: Any) -> None:
        if self.choices and value not in self.choices:
            raise ConfigError(f"expected one of {', '.join(self.choices)}, got {value!r}", option=self.name)
        if self.minimum is not None and value < self.minimum:
            raise ConfigError(
                f"must be at least {self.render(self.minimum)}, got {self.render(value)}", option=self.name
            )
        maximum = self.maximum if self.maximum is not None else _CEILINGS.get(self.type)
        if maximum is not None and value > maximum:
            raise ConfigError(
                f"must be at most {self.render(maximum)}, got {self.render(value)}", option=self.name
            )

    def render(self, value: float) -> str:
        """A limit in the unit the user writes: `30d`, `16MiB`, `65535`."""
        if self.type == "duration":
            return render_duration(value)
        if self.type == "size":
            return render_size(int(value))
        return f"{value:g}"


# Where an option names no maximum, a value past these is a typo, not a wish (10**30 bytes...).
_CEILINGS = {"size": float(1 << 40), "int": float(1 << 40), "duration": 10 * 365 * 86400.0}


@dataclass(frozen=True)
class OptionTable:
    """The options of one plugin; `validate` turns a raw mapping into typed values."""

    plugin: str
    kind: str
    summary: str
    options: tuple[Option, ...]
    generic: tuple[str, ...] = field(default=("name",))

    def names(self) -> list[str]:
        return [option.name for option in self.options]

    def secrets(self) -> list[str]:
        return [option.name for option in self.options if option.secret]

    def shown(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Values as a pipeline file writes them (`1s`, `64MiB`, secrets `***`): `podship check`
        prints what it would accept back."""
        kinds = {option.name: option for option in self.options}
        return {name: _shown(kinds.get(name), value) for name, value in values.items()}

    def validate(self, raw: Mapping[str, Any], *, file: str = "") -> dict[str, Any]:
        unknown = sorted(set(raw) - set(self.names()) - set(self.generic))
        if unknown:
            allowed = ", ".join(self.names())
            raise ConfigError(
                f"unknown option; allowed: {allowed}", file=file, plugin=self.plugin, option=unknown[0]
            )
        values = {}
        for option in self.options:
            values[option.name] = self._value(option, raw, file)
        return values

    def _value(self, option: Option, raw: Mapping[str, Any], file: str) -> Any:
        if option.name not in raw or raw[option.name] is None:
            if option.required:
                raise ConfigError("is required", file=file, plugin=self.plugin, option=option.name)
            return option.default
        try:
            return option.convert(raw[option.name])
        except ConfigError as exc:
            raise exc.located(file=file, plugin=self.plugin) from None


def _shown(option: Option | None, value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if option is not None and option.type in ("duration", "size") and isinstance(value, int | float):
        return option.render(value)
    return value


def render_default(option: Option) -> str:
    if option.required:
        return "(required)"
    if option.default is None or option.default == "":
        return "(none)"
    if isinstance(option.default, bool):
        return str(option.default).lower()
    if option.type == "duration":
        return render_duration(option.default)
    if option.type == "size":
        return render_size(option.default)
    return str(option.default)


def markdown_table(table: OptionTable) -> str:
    """The README's table for one plugin (a test keeps the README in sync with this)."""
    lines = [
        f"#### `{table.plugin}` ({table.kind})",
        "",
        table.summary,
        "",
        "| option | type | default | description |",
        "|---|---|---|---|",
    ]
    for option in table.options:
        kind = option.type + (f": {' / '.join(option.choices)}" if option.choices else "")
        lines.append(f"| `{option.name}` | {kind} | `{render_default(option)}` | {option.description} |")
    return "\n".join(lines)


def text_help(table: OptionTable) -> Iterable[str]:
    yield f"{table.plugin} ({table.kind}): {table.summary}"
    for option in table.options:
        default = render_default(option)
        yield f"  {option.name:<22} {option.type:<9} default {default:<12} {option.description}"
        if option.choices:
            yield f"  {'':<22} {'':<9} one of: {' / '.join(option.choices)}"
