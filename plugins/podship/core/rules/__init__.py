"""Log-filter rules: a small YAML language compiled once into fast predicates and actions.

Semantics, pinned (the README shows each with an example):
- Rules run in file order. A rule applies when its scope and its condition hold.
- `drop` and `keep` decide and end evaluation. `sample` and `rate_limit` end it only when they drop.
  Edits (`remove_fields`, `keep_fields`, `mask`, `set`, `rename`) and `tag` apply at once, in rule
  order, and evaluation goes on: later rules see the edited record.
- When no rule decides, the file's `default` (keep or drop) does.
- A condition on a list value holds when any element satisfies it (PoD header values are lists).
- A positive operator on a missing field is false; `neq` is `not eq`, so it is true there.
- Numeric operators compare numbers and numeric strings; anything else is false.
- Regexes are Python `re`, searched (not anchored), compiled at load."""

from podship.core.rules.compiler import RuleSet, compile_rules
from podship.core.rules.conditions import condition_of
from podship.core.rules.language import ALIASES, SCOPES, Decision, Rule, RuleError, Tally

__all__ = [
    "ALIASES",
    "SCOPES",
    "Decision",
    "Rule",
    "RuleError",
    "RuleSet",
    "Tally",
    "compile_rules",
    "condition_of",
]
