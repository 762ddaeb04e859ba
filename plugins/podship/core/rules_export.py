"""Rules -> the equivalent Fluent Bit filters or Vector transform, where a rule is expressible there.

Fluent Bit's `grep` (with `logical_op: and`) expresses a drop on AND-ed text conditions, and `modify`
unconditional edits of top-level keys; Vector's `filter` transform takes a VRL condition. Neither
has podship's ordered keep/drop evaluation, keyed masking, sampling by id or rate limits, so those
rules are listed as not expressible instead of being translated wrongly. Both collectors compare a
list value as a whole, where podship matches any element.
"""

from __future__ import annotations

import json
import re
from typing import Any

from podship.core.rules import ALIASES, SCOPES

Snippet = tuple[list[Any], list[str]]
_TEXT_OPS = ("eq", "in", "contains", "startswith", "endswith", "regex")


def _leaves(rule: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The AND-ed leaves of a rule (scope and Stellar form included), or None if not just that."""
    if "conditions" in rule:
        leaves = [dict(leaf, op=leaf.get("op", leaf.get("operator"))) for leaf in rule["conditions"]]
        scope = {key: rule[key] for key in ("tenant", "log_source") if key in rule}
    else:
        condition = rule.get("when")
        leaves = [] if condition is None else condition.get("all", [condition])
        scope = rule.get("scope") or {}
    fields = {key: ".".join(path) for key, path in SCOPES.items()}
    leaves += [
        {"field": fields[key], "op": "in", "value": value if isinstance(value, list) else [value]}
        for key, value in scope.items()
        if key in fields
    ]
    if not all(isinstance(leaf, dict) and "field" in leaf for leaf in leaves):
        return None
    return [dict(leaf, op=ALIASES.get(leaf.get("op", ""), leaf.get("op"))) for leaf in leaves]


def _regex(leaf: dict[str, Any]) -> str | None:
    op = leaf["op"]
    value: Any = leaf.get("value")
    if op not in _TEXT_OPS or (leaf.get("ignore_case") and op == "regex"):
        return None
    text = {
        "eq": lambda: f"^{re.escape(str(value))}$",
        "in": lambda: "^(" + "|".join(re.escape(str(item)) for item in value) + ")$",
        "contains": lambda: re.escape(str(value)),
        "startswith": lambda: f"^{re.escape(str(value))}",
        "endswith": lambda: f"{re.escape(str(value))}$",
        "regex": lambda: str(value),
    }[op]()
    return f"(?i){text}" if leaf.get("ignore_case") else text


def _fluent_key(field: Any) -> str:
    parts = field if isinstance(field, list) else str(field).split(".")
    return parts[0] if len(parts) == 1 else "$" + parts[0] + "".join(f"['{part}']" for part in parts[1:])


def _translate(document: dict[str, Any], one: Any) -> Snippet:
    """The rules `one` can translate, in order, up to the first that it cannot: later rules depend
    on that one (a keep ends evaluation, an edit changes what they see), so translating them alone
    would change their meaning. Tags decide nothing and are only listed."""
    entries: list[Any] = []
    skipped: list[str] = []
    if document.get("default", "keep") == "drop":  # dropping what no rule keeps has no equivalent
        return [], [str(rule.get("name")) for rule in document.get("rules", [])]
    for rule in document.get("rules", []):
        entry = None if skipped and not _is_tag(skipped[-1], document) else one(rule)
        if entry is None:
            skipped.append(str(rule.get("name")))
        else:
            entries.append(entry)
    return entries, skipped


def _is_tag(name: str, document: dict[str, Any]) -> bool:
    rule: dict[str, Any] = next((r for r in document.get("rules", []) if str(r.get("name")) == name), {})
    action = rule.get("action")
    return isinstance(action, dict) and set(action) == {"tag"}


def fluent_bit(document: dict[str, Any]) -> Snippet:
    """Fluent Bit YAML `pipeline.filters` entries, and the names of the rules left out."""
    return _translate(document, _fluent_rule)


def _fluent_rule(rule: dict[str, Any]) -> dict[str, Any] | None:
    action = rule.get("action")
    if action == "drop":
        leaves = _leaves(rule)
        patterns = [(leaf, _regex(leaf)) for leaf in leaves or []]
        if not leaves or any(pattern is None for _, pattern in patterns):
            return None
        exclude = [f"{_fluent_key(leaf['field'])} {pattern}" for leaf, pattern in patterns]
        return {
            "name": "grep",
            "alias": str(rule["name"]),
            "match": "*",
            "logical_op": "and",
            "exclude": exclude,
        }
    if isinstance(action, dict) and "when" not in rule and "conditions" not in rule and "scope" not in rule:
        return _fluent_modify(rule["name"], action)
    return None


def _top(key: Any) -> bool:
    """A top-level key: the only kind Fluent Bit's modify filter addresses."""
    return not isinstance(key, list) and "." not in str(key)


def _fluent_modify(name: str, action: dict[str, Any]) -> dict[str, Any] | None:
    kind, spec = next(iter(action.items()))
    top = _top
    if kind == "remove_fields" and all(top(key) for key in spec):
        return {"name": "modify", "alias": name, "match": "*", "remove": [str(key) for key in spec]}
    if kind == "rename" and all(top(key) and top(new) for key, new in spec.items()):
        return {
            "name": "modify",
            "alias": name,
            "match": "*",
            "rename": [f"{key} {new}" for key, new in spec.items()],
        }
    if kind == "set" and all(
        top(key) and isinstance(value, str | int | float) for key, value in spec.items()
    ):
        return {
            "name": "modify",
            "alias": name,
            "match": "*",
            "set": [f"{key} {value}" for key, value in spec.items()],
        }
    return None


def _vrl_path(field: Any) -> str:
    parts = field if isinstance(field, list) else str(field).split(".")
    return "".join(
        f".{part}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", part) else f".{json.dumps(part)}"
        for part in parts
    )


def _vrl(condition: Any) -> str | None:
    """A VRL boolean for a podship condition, or None where there is no faithful one."""
    if not isinstance(condition, dict):
        return None
    for kind, joiner in (("all", " && "), ("any", " || ")):
        if kind in condition:
            parts = [_vrl(part) for part in condition[kind]]
            return None if None in parts else "(" + joiner.join(p for p in parts if p) + ")"
    if "not" in condition:
        inner = _vrl(condition["not"])
        return None if inner is None else f"!{inner}"
    return _vrl_leaf(condition)


def _vrl_leaf(leaf: dict[str, Any]) -> str | None:
    path, op = _vrl_path(leaf["field"]), ALIASES.get(leaf.get("op", ""), leaf.get("op"))
    value: Any = leaf.get("value")
    text = f'(to_string({path}) ?? "")'
    if leaf.get("ignore_case") and op == "regex":
        value = f"(?i){value}"
    elif leaf.get("ignore_case"):
        text, value = f"downcase{text}", value.lower() if isinstance(value, str) else value
    makers = {
        "eq": lambda: f"{text} == {json.dumps(str(value))}",
        "neq": lambda: f"{text} != {json.dumps(str(value))}",
        "in": lambda: f"includes({json.dumps([str(item) for item in value])}, {text})",
        "contains": lambda: f"contains({text}, {json.dumps(value)})",
        "startswith": lambda: f"starts_with({text}, {json.dumps(value)})",
        "endswith": lambda: f"ends_with({text}, {json.dumps(value)})",
        "regex": lambda: f"match({text}, r'{value}')",
        "cidr": lambda: f"(ip_cidr_contains({json.dumps(_listed(value))}, {text}) ?? false)",
        "exists": lambda: f"exists({path})" if value is not False else f"!exists({path})",
    }
    if op not in makers or (op == "regex" and "'" in str(value)):
        return None
    return makers[op]()


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _vrl_rule(rule: dict[str, Any]) -> str | None:
    if rule.get("action") != "drop":
        return None
    if "conditions" in rule:
        leaves = _leaves(rule)
        return None if not leaves else _vrl({"all": leaves})
    scope = [leaf for leaf in _leaves({"scope": rule.get("scope")}) or []]
    parts = [rule["when"], *scope] if "when" in rule else scope
    return _vrl({"all": parts}) if parts else "true"


def vector(document: dict[str, Any], source: str = "podship") -> Snippet:
    """A Vector `filter` transform that drops what the translatable drop rules drop."""
    conditions, skipped = _translate(document, _vrl_rule)
    names = [
        str(rule.get("name")) for rule in document.get("rules", []) if str(rule.get("name")) not in skipped
    ]
    header = "".join(f"# drops what podship rule {name!r} drops\n" for name in names[: len(conditions)])
    keep = header + "!(\n  " + "\n  || ".join(conditions) + "\n)\n" if conditions else "true\n"
    transform = {
        "podship_rules": {"type": "filter", "inputs": [source], "condition": {"type": "vrl", "source": keep}}
    }
    return [{"transforms": transform}], skipped
