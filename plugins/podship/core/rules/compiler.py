"""A parsed rules file compiled into a RuleSet, and what deciding on a record means."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podship.core import paths
from podship.core.event.envelope import ORIGINAL_KEY
from podship.core.models import DEFAULT, MODELS
from podship.core.records import meanings_held, original
from podship.core.rules.actions import action_of
from podship.core.rules.conditions import scoped_test, stellar_test
from podship.core.rules.index import Index, index_key, stages
from podship.core.rules.language import RECORD_EDITS, TERMINAL, Context, Decision, Record, Rule, RuleError


@dataclass
class RuleSet:
    """Compiled rules; `decide` edits the record in place and says whether to keep it."""

    rules: list[Rule]
    default_keep: bool = True
    reads_original: bool = False  # a rule names the original event: parse it before the rules run
    stages: list[Rule | Index] = field(default_factory=list)
    schema: str = DEFAULT  # the record model whose field paths the rules name
    editing: frozenset[str] = frozenset()  # the rules whose action is an edit
    reaching: frozenset[str] = frozenset()  # those whose edit can reach the PoD event

    def __post_init__(self) -> None:
        self.stages = stages(self.rules)
        # Each stage's test, called straight from the loop (a method between costs a call per rule
        # per event), with its rule; an index's test returns the rule that applies.
        self._tests: list[tuple[Callable[[Record], Any], Rule | None]] = [
            (stage.test, stage) if isinstance(stage, Rule) else (stage.match, None) for stage in self.stages
        ]
        self._unmatched = Decision(self.default_keep, "")  # most records: made once
        self.editing = frozenset(rule.name for rule in self.rules if rule.action in RECORD_EDITS)
        self.reaching = frozenset(rule.name for rule in self.rules if rule.reaches_event)

    def edited(self, decision: Decision) -> tuple[bool, bool]:
        """Whether a rule that applied edited the record it read, and whether one edited the
        PoD event itself (then its text no longer says what it holds)."""
        matched = decision.matched
        if not matched:
            return False, False
        return not self.editing.isdisjoint(matched), not self.reaching.isdisjoint(matched)

    def decide(self, record: Record, now: float) -> Decision:
        if self.reads_original:
            original(record)
        for position, (test, rule) in enumerate(self._tests):
            found = test(record)
            if found:
                return self._applying(record, now, position, found if rule is None else rule)
        return self._unmatched

    def _applying(self, record: Record, now: float, position: int, first: Rule) -> Decision:
        """From the first rule that applies (`first`, at `position`) on: each rule that applies
        acts, in order, until one keeps or drops the record."""
        tags: set[str] = set()
        matched: list[str] = []
        for index, stage in enumerate(self.stages[position:]):
            rule = first if index == 0 else stage.match(record)
            if rule is None:
                continue
            matched.append(rule.name)
            tags |= rule.tags
            verdict = rule.apply(record, now)
            if verdict is not None:
                return Decision(verdict, rule.name, frozenset(tags), tuple(matched))
        return Decision(self.default_keep, "", frozenset(tags), tuple(matched))


def compile_rules(document: Any, mask_key: bytes = b"") -> RuleSet:
    """A RuleSet from a parsed rules file (mappings may carry `__line__` from the loader)."""
    if not isinstance(document, dict) or not isinstance(document.get("rules"), list):
        raise RuleError("a rules file is a mapping with a 'rules' list")
    unknown = set(document) - {"rules", "default", "mask_key", "schema", "__line__"}
    if unknown:
        raise RuleError(
            f"unknown top-level key {sorted(unknown)[0]!r}; allowed: default, mask_key, rules, schema"
        )
    default, schema = document.get("default", "keep"), document.get("schema", DEFAULT)
    if default not in TERMINAL:
        raise RuleError(f"default must be keep or drop, got {default!r}")
    if schema not in MODELS:
        raise RuleError(f"schema must be one of {', '.join(MODELS)}, got {schema!r}")
    rules = [_rule(entry, position, mask_key, schema) for position, entry in enumerate(document["rules"], 1)]
    names = [rule.name for rule in rules]
    for rule in rules:
        if names.count(rule.name) > 1:
            raise RuleError("rule names must be unique", line=rule.line, rule=rule.name)
    reads = _names_original(document["rules"])
    return RuleSet(rules, default_keep=default == "keep", reads_original=reads, schema=schema)


def _names_original(spec: Any) -> bool:
    """True where any string in the rules starts with `proofpoint_on_demand` (a field path into
    the original event, or a value that merely looks like one: then it is parsed for nothing)."""
    if isinstance(spec, str):
        return spec.startswith(ORIGINAL_KEY)
    if isinstance(spec, dict):
        return any(_names_original(key) or _names_original(value) for key, value in spec.items())
    return isinstance(spec, list) and any(_names_original(item) for item in spec)


def _rule(entry: Any, position: int, mask_key: bytes, schema: str = DEFAULT) -> Rule:
    if not isinstance(entry, dict):
        raise RuleError(f"rule {position} must be a mapping")
    context = Context(mask_key, entry.get("__line__", 0), str(entry.get("name") or f"#{position}"), schema)
    if "name" not in entry:
        raise context.error("every rule needs a name")
    if schema != DEFAULT:
        _model_rule(entry, context)
    stellar = "conditions" in entry
    allowed = {"name", "__line__", "action", "description"} | (
        {"conditions", "tenant", "log_source"} if stellar else {"when", "scope"}
    )
    extra = set(entry) - allowed
    if extra:
        raise context.error(
            f"unknown key {sorted(extra)[0]!r}; allowed: {', '.join(sorted(allowed - {'__line__'}))}"
        )
    test = stellar_test(entry, context) if stellar else scoped_test(entry, context)
    action, apply, tags = action_of(entry.get("action"), context)
    index = None if stellar or "scope" in entry else index_key(entry.get("when"))
    return Rule(
        context.rule, context.line, test, action, apply, index, tags, _reaches_event(entry.get("action"))
    )


def _reaches_event(action: Any) -> bool:
    """Whether an edit can change the PoD event itself: a mask by meaning, a mask of a field
    that holds one, or any edit that names a path into the event."""
    if not isinstance(action, dict) or not set(action) & set(RECORD_EDITS):
        return False
    mask = action.get("mask")
    if isinstance(mask, dict) and ("what" in mask or _holds_meaning(mask.get("fields"))):
        return True
    return _names_original({key: value for key, value in action.items() if key != "__line__"})


def _holds_meaning(fields: Any) -> bool:
    names = fields if isinstance(fields, list) else [fields]
    try:
        return bool(meanings_held([paths.parse_path(str(name)) for name in names]))
    except ValueError:
        return False


def _model_rule(entry: dict[str, Any], context: Context) -> None:
    """A rule on another model's fields sees a rendering of the record, not the record the outputs
    get: it can decide and tag, not edit; and scopes name syslog-index fields."""
    scoped = sorted({"scope", "tenant", "log_source"} & set(entry))
    if scoped:
        raise context.error(
            f"{scoped[0]} names syslog-index fields; in a schema: {context.schema} file write a condition"
        )
    action = entry.get("action")
    edit = next((kind for kind in RECORD_EDITS if isinstance(action, dict) and kind in action), None)
    if edit:
        raise context.error(
            f"{edit} edits the syslog-index record; a schema: {context.schema} file "
            "can drop, keep, tag, sample or rate_limit"
        )
