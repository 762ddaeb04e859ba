"""One declarative options table per plugin.

From each table come validation (unknown keys, wrong types, ranges), `podship options` help, the
option tables in the README, and the frozen options object the plugin reads (its `shape`, a
dataclass whose fields the table checks at import), so none of them can disagree.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from podship.core.units import parse_duration, parse_size, render_duration, render_size
from podship.errors import ConfigError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


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


# What each option type becomes in a plugin's options object (a list is frozen into a tuple).
PYTHON_TYPES: dict[str, Any] = {
    "str": str,
    "int": int,
    "float": float,
    "bool": bool,
    "duration": float,
    "size": int,
    "secret": Secret,
    "list": tuple[str, ...],
}
Shape_co = TypeVar("Shape_co", bound="DataclassInstance", covariant=True)


@dataclass(frozen=True)
class OptionTable(Generic[Shape_co]):
    """The options of one plugin; `validate` turns a raw mapping into its frozen `shape`."""

    plugin: str
    kind: str
    summary: str
    options: tuple[Option, ...]
    shape: type[Shape_co]
    generic: tuple[str, ...] = field(default=("name",))

    def __post_init__(self) -> None:
        """The options class and the table must not drift apart: checked once, at import."""
        problems = shape_problems(self.shape, self.options)
        if problems:
            raise TypeError(f"{self.shape.__name__} does not match the {self.plugin} table: {problems[0]}")

    def names(self) -> list[str]:
        return [option.name for option in self.options]

    def secrets(self) -> list[str]:
        return [option.name for option in self.options if option.secret]

    def shown(self, values: object) -> dict[str, Any]:
        """Values as a pipeline file writes them (`1s`, `64MiB`, secrets `***`): `podship check`
        prints what it would accept back."""
        return {option.name: _shown(option, value) for option, value in self._pairs(values)}

    def mapping(self, values: object) -> dict[str, Any]:
        """The values by option name, for what works on every plugin by name (`alias`, the paths)."""
        return {option.name: value for option, value in self._pairs(values)}

    def own(self, values: object) -> Shape_co:
        """`values` as this table's options object (a plugin handed another's is a bug)."""
        if not isinstance(values, self.shape):
            raise TypeError(f"{self.plugin}: expected {self.shape.__name__}, got {type(values).__name__}")
        return values

    def replaced(self, values: object, **changes: Any) -> Shape_co:
        """A copy with `changes`: options objects are frozen once validated."""
        return dataclasses.replace(self.own(values), **changes)

    def validate(self, raw: Mapping[str, Any], *, file: str = "") -> Shape_co:
        unknown = sorted(set(raw) - set(self.names()) - set(self.generic))
        if unknown:
            allowed = ", ".join(self.names())
            raise ConfigError(
                f"unknown option; allowed: {allowed}", file=file, plugin=self.plugin, option=unknown[0]
            )
        values = {option.name: _frozen(self._value(option, raw, file)) for option in self.options}
        return self.shape(**values)

    def _pairs(self, values: object) -> list[tuple[Option, Any]]:
        own = self.own(values)
        return [(option, getattr(own, option.name)) for option in self.options]

    def _value(self, option: Option, raw: Mapping[str, Any], file: str) -> Any:
        if option.name not in raw or raw[option.name] is None:
            if option.required:
                raise ConfigError("is required", file=file, plugin=self.plugin, option=option.name)
            return option.default
        try:
            return option.convert(raw[option.name])
        except ConfigError as exc:
            raise exc.located(file=file, plugin=self.plugin) from None


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _shown(option: Option, value: Any) -> Any:
    if isinstance(value, Secret):
        return "***"
    if option.type in ("duration", "size") and isinstance(value, int | float):
        return option.render(value)
    return list(value) if isinstance(value, tuple) else value  # YAML writes lists, not tuples


def shape_problems(shape: type[DataclassInstance], options: tuple[Option, ...]) -> list[str]:
    """How an options class differs from its table: a missing or extra field, or a field whose
    type is not what the option's type converts to (`| None` where the default is None)."""
    hints = typing.get_type_hints(shape)
    wanted = {option.name: _python_type(option) for option in options}
    fields = {item.name for item in dataclasses.fields(shape)}
    problems = [f"no field for option {name!r}" for name in wanted if name not in fields]
    problems += [f"field {name!r} is no option" for name in sorted(fields - set(wanted))]
    problems += [
        f"field {name!r} is {hints[name]}, the option gives {kind}"
        for name, kind in wanted.items()
        if name in fields and hints[name] != kind
    ]
    problems += [f"option {o.name!r} has a default of another type" for o in options if not _fits(o)]
    return problems


def _fits(option: Option) -> bool:
    """The default is what the field holds when the file says nothing: it must be of its type."""
    kind = PYTHON_TYPES[option.type]
    return option.default is None or isinstance(_frozen(option.default), typing.get_origin(kind) or kind)


def _python_type(option: Option) -> Any:
    kind = PYTHON_TYPES[option.type]
    return kind | None if option.default is None and not option.required else kind


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


def markdown_table(table: OptionTable[DataclassInstance]) -> str:
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


def text_help(table: OptionTable[DataclassInstance]) -> Iterable[str]:
    yield f"{table.plugin} ({table.kind}): {table.summary}"
    for option in table.options:
        default = render_default(option)
        yield f"  {option.name:<22} {option.type:<9} default {default:<12} {option.description}"
        if option.choices:
            yield f"  {'':<22} {'':<9} one of: {' / '.join(option.choices)}"
