"""The rules language's vocabulary: operators and their other names, scopes, compiled rules, errors."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podship.core import paths
from podship.core.models import DEFAULT
from podship.errors import PodshipError

Record = dict[str, Any]


Test = Callable[[Record], bool]


STELLAR_LIMIT = 10


OPS = (
    "eq",
    "neq",
    "in",
    "contains",
    "startswith",
    "endswith",
    "regex",
    "cidr",
    "lt",
    "lte",
    "gt",
    "gte",
    "exists",
)


ALIASES = {  # other names of operators (rules_export reads these too)
    "equals": "eq",
    "not_equals": "neq",
    "starts_with": "startswith",
    "ends_with": "endswith",
    "matches": "regex",
}


SCOPES = {  # scope key -> the record field it tests
    "tenant": ("tenant_name",),
    "connector": ("connector",),
    "msg_class": ("msg_class",),
    "log_source": ("msg_origin", "source"),
}


TERMINAL = ("drop", "keep")


RECORD_EDITS = ("remove_fields", "keep_fields", "mask", "set", "rename")


class RuleError(PodshipError, ValueError):
    """A rules-file mistake, with the line and the rule it is in."""

    def __init__(self, problem: str, *, line: int = 0, rule: str = "") -> None:
        self.problem, self.line, self.rule = problem, line, rule
        where = [f"line {line}"] if line else []
        where += [f"rule {rule!r}"] if rule else []
        super().__init__(": ".join([*where, problem]))


@dataclass(frozen=True)
class Decision:
    keep: bool
    rule: str  # the rule that decided, or "" for the file's default
    tags: frozenset[str] = frozenset()
    matched: tuple[str, ...] = ()  # every rule that applied, in order


@dataclass
class Tally:
    """Per rule: records it applied to and records it dropped. Kept by whoever runs the rules
    (the filter stage, `podship rules test`), so that compiled rules hold no state but limiters."""

    matched: Counter[str] = field(default_factory=Counter)
    dropped: Counter[str] = field(default_factory=Counter)

    def count(self, decision: Decision) -> Decision:
        if decision.matched:  # where none applied (most records) a Counter update still costs 1 us
            self.matched.update(decision.matched)
            if not decision.keep and decision.rule:
                self.dropped[decision.rule] += 1
        return decision

    def of(self, names: list[str]) -> dict[str, dict[str, int]]:
        return {name: {"matched": self.matched[name], "dropped": self.dropped[name]} for name in names}


@dataclass
class Rule:
    name: str
    line: int
    test: Test
    action: str
    apply: Callable[[Record, float], bool | None]  # True keep, False drop, None go on
    index: tuple[paths.Path, frozenset[Any], bool] | None = None  # simple eq/in: path, values, ignore_case
    tags: frozenset[str] = frozenset()
    reaches_event: bool = False  # its edit reaches the PoD event (every model), not one record

    def match(self, record: Record) -> Rule | None:
        return self if self.test(record) else None


@dataclass(frozen=True)
class Context:
    """What compiling needs besides the rule: the mask key, and where we are for errors."""

    mask_key: bytes = b""
    line: int = 0
    rule: str = ""
    schema: str = DEFAULT

    def error(self, problem: str) -> RuleError:
        return RuleError(problem, line=self.line, rule=self.rule)


SCALARS = (str, int, float, bool)


Apply = Callable[[Record, float], bool | None]


ESSENTIAL = [("timestamp",), ("event_id",), ("msg_class",), ("connector",), ("event_type",)]


def folded(value: Any, fold: bool) -> Any:
    return value.casefold() if fold and isinstance(value, str) else value


def hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None
