"""Indexing: a run of consecutive keep/drop rules on equality is one dictionary lookup per field."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from podship.core import paths
from podship.core.rules.language import TERMINAL, Record, Rule, folded, hashable


@dataclass
class Index:
    """A run of terminal `eq`/`in` rules: value -> first rule, per field; the earliest rule wins."""

    fields: list[tuple[paths.Path, bool, dict[Any, Rule]]]
    order: dict[int, int]

    def match(self, record: Record) -> Rule | None:
        best: Rule | None = None
        for path, fold, table in self.fields:
            for value in paths.values(record, path):
                key = value.casefold() if fold and isinstance(value, str) else value
                rule = table.get(key) if hashable(key) else None
                if rule is not None and (best is None or self.order[id(rule)] < self.order[id(best)]):
                    best = rule
        return best


def stages(rules: list[Rule]) -> list[Rule | Index]:
    stages: list[Rule | Index] = []
    run: list[Rule] = []
    for rule in [*rules, None]:
        if rule is not None and rule.index is not None and rule.action in TERMINAL:
            run.append(rule)
            continue
        stages.extend(run if len(run) < 3 else [_index(run)])
        run = []
        if rule is not None:
            stages.append(rule)
    return stages


def _index(run: list[Rule]) -> Index:
    tables: dict[tuple[paths.Path, bool], dict[Any, Rule]] = {}
    for rule in run:
        assert rule.index is not None
        path, values, fold = rule.index
        table = tables.setdefault((path, fold), {})
        for value in values:
            table.setdefault(value, rule)
    order = {id(rule): position for position, rule in enumerate(run)}
    return Index([(path, fold, table) for (path, fold), table in tables.items()], order)


def index_key(spec: Any) -> tuple[paths.Path, frozenset[Any], bool] | None:
    """The (field, values, ignore_case) of a plain `eq`/`in` leaf, which an index can serve."""
    if not isinstance(spec, dict) or spec.get("op") not in ("eq", "in"):
        return None
    values = spec["value"] if spec["op"] == "in" else [spec.get("value")]
    fold = bool(spec.get("ignore_case", False))
    if not all(hashable(value) for value in values):
        return None
    return paths.parse_path(spec["field"]), frozenset(folded(value, fold) for value in values), fold
