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
- Regexes are Python `re`, searched (not anchored), compiled at load.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podship.core import paths
from podship.core.models import DEFAULT, MODELS
from podship.core.records import ORIGINAL_KEY, number, original
from podship.core.units import parse_duration
from podship.errors import PodshipError

Record = dict[str, Any]
Test = Callable[[Record], bool]
STELLAR_LIMIT = 10
_OPS = (
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
_TERMINAL = ("drop", "keep")
_RECORD_EDITS = ("remove_fields", "keep_fields", "mask", "set", "rename")


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


@dataclass
class Rule:
    name: str
    line: int
    test: Test
    action: str
    apply: Callable[[Record, float], bool | None]  # True keep, False drop, None go on
    index: tuple[paths.Path, frozenset[Any], bool] | None = None  # simple eq/in: path, values, ignore_case
    tags: frozenset[str] = frozenset()
    matched: int = 0
    dropped: int = 0

    def match(self, record: Record) -> Rule | None:
        return self if self.test(record) else None


@dataclass
class RuleSet:
    """Compiled rules; `decide` edits the record in place and says whether to keep it."""

    rules: list[Rule]
    default_keep: bool = True
    reads_original: bool = False  # a rule names the original event: parse it before the rules run
    stages: list[Rule | _Index] = field(default_factory=list)
    schema: str = DEFAULT  # the record model whose field paths the rules name

    def __post_init__(self) -> None:
        self.stages = _stages(self.rules)

    def decide(self, record: Record, now: float) -> Decision:
        if self.reads_original:
            original(record)
        tags: set[str] = set()
        for stage in self.stages:
            rule = stage.match(record)
            if rule is None:
                continue
            rule.matched += 1
            tags |= rule.tags
            verdict = rule.apply(record, now)
            if verdict is not None:
                rule.dropped += not verdict
                return Decision(verdict, rule.name, frozenset(tags))
        return Decision(self.default_keep, "", frozenset(tags))


# --- indexing: consecutive keep/drop rules on equality are one dictionary lookup per field ------


@dataclass
class _Index:
    """A run of terminal `eq`/`in` rules: value -> first rule, per field; the earliest rule wins."""

    fields: list[tuple[paths.Path, bool, dict[Any, Rule]]]
    order: dict[int, int]

    def match(self, record: Record) -> Rule | None:
        best: Rule | None = None
        for path, fold, table in self.fields:
            for value in paths.values(record, path):
                key = value.casefold() if fold and isinstance(value, str) else value
                rule = table.get(key) if _hashable(key) else None
                if rule is not None and (best is None or self.order[id(rule)] < self.order[id(best)]):
                    best = rule
        return best


def _hashable(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) or value is None


def _stages(rules: list[Rule]) -> list[Rule | _Index]:
    stages: list[Rule | _Index] = []
    run: list[Rule] = []
    for rule in [*rules, None]:
        if rule is not None and rule.index is not None and rule.action in _TERMINAL:
            run.append(rule)
            continue
        stages.extend(run if len(run) < 3 else [_index(run)])
        run = []
        if rule is not None:
            stages.append(rule)
    return stages


def _index(run: list[Rule]) -> _Index:
    tables: dict[tuple[paths.Path, bool], dict[Any, Rule]] = {}
    for rule in run:
        assert rule.index is not None
        path, values, fold = rule.index
        table = tables.setdefault((path, fold), {})
        for value in values:
            table.setdefault(value, rule)
    order = {id(rule): position for position, rule in enumerate(run)}
    return _Index([(path, fold, table) for (path, fold), table in tables.items()], order)


# --- compiling ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """What compiling needs besides the rule: the mask key, and where we are for errors."""

    mask_key: bytes = b""
    line: int = 0
    rule: str = ""
    schema: str = DEFAULT

    def error(self, problem: str) -> RuleError:
        return RuleError(problem, line=self.line, rule=self.rule)


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
    if default not in _TERMINAL:
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
    test = _stellar(entry, context) if stellar else _scoped(entry, context)
    action, apply, tags = _action(entry.get("action"), context)
    index = None if stellar or "scope" in entry else _index_key(entry.get("when"))
    return Rule(context.rule, context.line, test, action, apply, index, tags)


def _model_rule(entry: dict[str, Any], context: Context) -> None:
    """A rule on another model's fields sees a rendering of the record, not the record the outputs
    get: it can decide and tag, not edit; and scopes name syslog-index fields."""
    scoped = sorted({"scope", "tenant", "log_source"} & set(entry))
    if scoped:
        raise context.error(
            f"{scoped[0]} names syslog-index fields; in a schema: {context.schema} file write a condition"
        )
    action = entry.get("action")
    edit = next((kind for kind in _RECORD_EDITS if isinstance(action, dict) and kind in action), None)
    if edit:
        raise context.error(
            f"{edit} edits the syslog-index record; a schema: {context.schema} file "
            "can drop, keep, tag, sample or rate_limit"
        )


def _scoped(entry: dict[str, Any], context: Context) -> Test:
    condition = condition_of(entry["when"], context) if "when" in entry else _always
    if "scope" not in entry:
        return condition
    scope = _scope(entry["scope"], context)
    return lambda record: scope(record) and condition(record)


def _always(record: Record) -> bool:
    return True


def _scope(spec: Any, context: Context) -> Test:
    if not isinstance(spec, dict) or not spec:
        raise context.error(f"scope is a mapping of {', '.join(SCOPES)}")
    tests = []
    for key, wanted in spec.items():
        if key == "__line__":
            continue
        if key not in SCOPES:
            raise context.error(f"unknown scope {key!r}; allowed: {', '.join(SCOPES)}")
        tests.append(
            _leaf_test(SCOPES[key], "in", wanted if isinstance(wanted, list) else [wanted], False, context)
        )
    return lambda record: all(test(record) for test in tests)


def _stellar(entry: dict[str, Any], context: Context) -> Test:
    """Stellar Cyber's log-filter form: AND-ed conditions, optional tenant and log source."""
    conditions = entry["conditions"]
    if not isinstance(conditions, list) or not conditions:
        raise context.error("conditions is a non-empty list")
    if len(conditions) > STELLAR_LIMIT:
        raise context.error(f"at most {STELLAR_LIMIT} conditions in one filter, got {len(conditions)}")
    scope = {key: entry[key] for key in ("tenant", "log_source") if key in entry}
    tests = [condition_of(item, context) for item in conditions] + ([_scope(scope, context)] if scope else [])
    return lambda record: all(test(record) for test in tests)


def condition_of(spec: Any, context: Context) -> Test:
    """A predicate from a leaf `{field, op, value}` or a combinator `all`, `any`, `not`."""
    if not isinstance(spec, dict):
        raise context.error(f"a condition is a mapping, got {type(spec).__name__}")
    keys = set(spec) - {"__line__"}
    if keys in ({"all"}, {"any"}):
        (kind,) = keys
        parts = spec[kind]
        if not isinstance(parts, list) or not parts:
            raise context.error(f"{kind} takes a non-empty list of conditions")
        return _combine(kind, [condition_of(part, context) for part in parts])
    if keys == {"not"}:
        inner = condition_of(spec["not"], context)
        return lambda record: not inner(record)
    return _leaf(spec, context)


def _combine(kind: str, tests: list[Test]) -> Test:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        if kind == "all":
            return lambda record: first(record) and second(record)
        return lambda record: first(record) or second(record)
    if kind == "all":
        return lambda record: all(test(record) for test in tests)
    return lambda record: any(test(record) for test in tests)


def _leaf(spec: dict[str, Any], context: Context) -> Test:
    named = str(spec.get("op", spec.get("operator", "")))
    op = ALIASES.get(named, named)
    keys = sorted(set(spec) - {"__line__"})
    if set(keys) - {"field", "op", "operator", "value", "ignore_case"} or "field" not in spec:
        raise context.error(
            f"a condition is {{field, op, value[, ignore_case]}} or all/any/not; got keys {keys}"
        )
    if op not in _OPS:
        raise context.error(f"unknown operator {op!r}; known: {', '.join(_OPS)}")
    try:
        path = paths.parse_path(spec["field"])
    except ValueError as exc:
        raise context.error(str(exc)) from None
    if "value" not in spec and op != "exists":
        raise context.error(f"operator {op} needs a value")
    return _leaf_test(path, op, spec.get("value", True), bool(spec.get("ignore_case", False)), context)


def _leaf_test(path: paths.Path, op: str, value: Any, fold: bool, context: Context) -> Test:
    if op == "exists":
        if not isinstance(value, bool):
            raise context.error("exists takes true or false")
        return lambda record: paths.exists(record, path) is value
    if op == "neq":
        positive = _leaf_test(path, "eq", value, fold, context)
        return lambda record: not positive(record)
    check = _MAKERS[op](value, fold, context)
    if len(path) > 1:
        return lambda record: any(check(item) for item in paths.values(record, path))
    key = path[0]

    def top(record: Record) -> bool:
        # The common case, kept cheap: a top-level field, no generator for a single value.
        found = record.get(key)
        if found is None:
            return False
        if type(found) is list:
            return any(check(item) for item in found)
        return check(found)

    return top


def _fold(value: Any, fold: bool) -> Any:
    return value.casefold() if fold and isinstance(value, str) else value


def _scalar(value: Any, op: str, context: Context) -> Any:
    if isinstance(value, list | dict):
        raise context.error(f"operator {op} takes one value, not a {type(value).__name__}")
    return value


def _eq(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
    wanted = _fold(_scalar(value, "eq", context), fold)
    if not fold:
        return lambda item: bool(item == wanted)
    return lambda item: _fold(item, fold) == wanted


def _in(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
    if not isinstance(value, list) or not value:
        raise context.error("operator in takes a non-empty list of values")
    if not all(_hashable(item) for item in value):
        raise context.error("operator in takes strings, numbers or booleans")
    wanted = frozenset(_fold(item, fold) for item in value)
    if not fold:
        return lambda item: type(item) in _SCALARS and item in wanted
    return lambda item: _hashable(item) and _fold(item, fold) in wanted


_SCALARS = (str, int, float, bool)


def _text(kind: str) -> Callable[[Any, bool, Context], Callable[[Any], bool]]:
    def make(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
        if not isinstance(value, str):
            raise context.error(f"operator {kind} takes a string, got {value!r}")
        wanted = _fold(value, fold)
        method = {"contains": str.__contains__, "startswith": str.startswith, "endswith": str.endswith}[kind]
        if not fold:
            return lambda item: type(item) is str and method(item, wanted)
        return lambda item: isinstance(item, str) and method(item.casefold(), wanted)

    return make


def _regex(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
    if not isinstance(value, str):
        raise context.error(f"operator regex takes a string, got {value!r}")
    try:
        search = re.compile(value, re.IGNORECASE if fold else 0).search
    except re.error as exc:
        raise context.error(f"bad regex {value!r}: {exc}") from None
    return lambda item: type(item) is str and search(item) is not None


def _cidr(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
    specs = value if isinstance(value, list) else [value]
    try:
        networks = [ipaddress.ip_network(str(spec), strict=False) for spec in specs]
    except ValueError as exc:
        raise context.error(f"bad network: {exc}") from None

    def inside(item: Any) -> bool:
        address = _address(item) if type(item) is str else None
        return address is not None and any(
            address in net for net in networks if net.version == address.version
        )

    return inside


@functools.lru_cache(maxsize=65536)
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parsed once per distinct address: sender IPs repeat, and parsing costs more than the test."""
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _numeric(kind: str) -> Callable[[Any, bool, Context], Callable[[Any], bool]]:
    compare = {"lt": float.__lt__, "lte": float.__le__, "gt": float.__gt__, "gte": float.__ge__}[kind]

    def make(value: Any, fold: bool, context: Context) -> Callable[[Any], bool]:
        limit = number(value)
        if limit is None:
            raise context.error(f"operator {kind} takes a number, got {value!r}")

        def check(item: Any) -> bool:
            found = number(item) if isinstance(item, int | float | str) else None
            return found is not None and compare(float(found), float(limit))

        return check

    return make


_MAKERS: dict[str, Callable[[Any, bool, Context], Callable[[Any], bool]]] = {
    "eq": _eq,
    "in": _in,
    "contains": _text("contains"),
    "startswith": _text("startswith"),
    "endswith": _text("endswith"),
    "regex": _regex,
    "cidr": _cidr,
    **{kind: _numeric(kind) for kind in ("lt", "lte", "gt", "gte")},
}


def _index_key(spec: Any) -> tuple[paths.Path, frozenset[Any], bool] | None:
    """The (field, values, ignore_case) of a plain `eq`/`in` leaf, which an index can serve."""
    if not isinstance(spec, dict) or spec.get("op") not in ("eq", "in"):
        return None
    values = spec["value"] if spec["op"] == "in" else [spec.get("value")]
    fold = bool(spec.get("ignore_case", False))
    if not all(_hashable(value) for value in values):
        return None
    return paths.parse_path(spec["field"]), frozenset(_fold(value, fold) for value in values), fold


# --- actions -----------------------------------------------------------------------------------

Apply = Callable[[Record, float], bool | None]


def _action(spec: Any, context: Context) -> tuple[str, Apply, frozenset[str]]:
    if spec in _TERMINAL:
        verdict = spec == "keep"
        return spec, lambda record, now: verdict, frozenset()
    if not isinstance(spec, dict) or len(set(spec) - {"__line__"}) != 1:
        raise context.error(f"action is drop, keep, or one of {{{', '.join(_EDITS)}: ...}}")
    (kind,) = set(spec) - {"__line__"}
    if kind not in _EDITS:
        raise context.error(f"unknown action {kind!r}; known: drop, keep, {', '.join(_EDITS)}")
    if kind == "tag":
        tags = spec["tag"] if isinstance(spec["tag"], list) else [spec["tag"]]
        return kind, lambda record, now: None, frozenset(str(tag) for tag in tags)
    return kind, _EDITS[kind](spec[kind], context), frozenset()


def _path_list(spec: Any, context: Context) -> list[paths.Path]:
    items = spec if isinstance(spec, list) else [spec]
    try:
        return [paths.parse_path(item) for item in items]
    except ValueError as exc:
        raise context.error(str(exc)) from None


def _remove(spec: Any, context: Context) -> Apply:
    targets = _path_list(spec, context)

    def apply(record: Record, now: float) -> None:
        for path in targets:
            paths.remove(record, path)

    return apply


ESSENTIAL = [("timestamp",), ("event_id",), ("msg_class",), ("connector",), ("event_type",)]


def _keep_fields(spec: Any, context: Context) -> Apply:
    targets = _path_list(spec, context) + ESSENTIAL  # outputs need these to route and deduplicate

    def apply(record: Record, now: float) -> None:
        kept = paths.project(record, targets)
        record.clear()
        record.update(kept)

    return apply


def _mask(spec: Any, context: Context) -> Apply:
    if not isinstance(spec, dict) or "fields" not in spec:
        raise context.error("mask takes {fields: [...], with: text | hash, text: '***'}")
    targets, change = _path_list(spec["fields"], context), _masker(spec, context)

    def apply(record: Record, now: float) -> None:
        for path in targets:
            paths.replace(record, path, change)

    return apply


def _masker(spec: dict[str, Any], context: Context) -> Callable[[Any], str]:
    """Fixed text, or a keyed hash that lets analysts correlate values without seeing them."""
    how = spec.get("with", "text")
    if how == "text":
        text = str(spec.get("text", "***"))
        return lambda value: text
    if how != "hash":
        raise context.error(f"mask with is text or hash, got {how!r}")
    if not context.mask_key:
        raise context.error("mask with hash needs mask_key at the top of the rules file")
    key = context.mask_key
    return lambda value: "hmac-sha256:" + hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()[:32]


def _set(spec: Any, context: Context) -> Apply:
    if not isinstance(spec, dict) or not spec:
        raise context.error("set takes a mapping of field: value")
    pairs = [(paths.parse_path(name), value) for name, value in spec.items() if name != "__line__"]

    def apply(record: Record, now: float) -> None:
        for path, value in pairs:
            paths.assign(record, path, value)

    return apply


def _rename(spec: Any, context: Context) -> Apply:
    if not isinstance(spec, dict) or not spec:
        raise context.error("rename takes a mapping of from: to")
    pairs = [(paths.parse_path(old), paths.parse_path(new)) for old, new in spec.items() if old != "__line__"]

    def apply(record: Record, now: float) -> None:
        for old, new in pairs:
            found, value = paths.lookup(record, old)
            if found:
                paths.remove(record, old)
                paths.assign(record, new, value)

    return apply


def _sample(spec: Any, context: Context) -> Apply:
    if not isinstance(spec, int) or isinstance(spec, bool) or spec < 1:
        raise context.error(f"sample takes a whole number N >= 1 (keep 1 in N), got {spec!r}")

    id_path = MODELS[context.schema].id_path

    def apply(record: Record, now: float) -> bool | None:
        event_id = [record.get(id_path[0], "")] if len(id_path) == 1 else paths.values(record, id_path)
        digest = hashlib.blake2b(str(event_id[0] if event_id else "").encode(), digest_size=8).digest()
        return None if int.from_bytes(digest, "big") % spec == 0 else False

    return apply


def _rate_limit(spec: Any, context: Context) -> Apply:

    if not isinstance(spec, dict) or not isinstance(spec.get("count"), int) or spec["count"] < 1:
        raise context.error("rate_limit takes {count: N, per: 1m, key: field}")
    try:
        window = parse_duration(spec.get("per", "1m"))
    except ValueError as exc:
        raise context.error(str(exc)) from None
    key_path = paths.parse_path(spec["key"]) if "key" in spec else None
    limiter = _Limiter(spec["count"], window)

    def apply(record: Record, now: float) -> bool | None:
        key = "" if key_path is None else repr(paths.values(record, key_path))
        return None if limiter.allow(key, now) else False

    return apply


@dataclass
class _Limiter:
    """N per fixed window per key; old windows are forgotten so that memory stays bounded."""

    count: int
    window: float
    seen: dict[str, tuple[int, int]] = field(default_factory=dict)

    def allow(self, key: str, now: float) -> bool:
        slot = int(now // self.window)
        start, used = self.seen.get(key, (slot, 0))
        if start != slot:
            start, used = slot, 0
        if len(self.seen) > 100_000:
            self.seen = {k: v for k, v in self.seen.items() if v[0] == slot}
        self.seen[key] = (start, used + 1)
        return used < self.count


_EDITS: dict[str, Callable[[Any, Context], Apply]] = {
    "remove_fields": _remove,
    "keep_fields": _keep_fields,
    "mask": _mask,
    "set": _set,
    "rename": _rename,
    "tag": lambda spec, context: lambda record, now: None,
    "sample": _sample,
    "rate_limit": _rate_limit,
}
