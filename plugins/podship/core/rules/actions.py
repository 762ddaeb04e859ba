"""Actions: what a rule does to a record it applies to (drop, keep, edits, tags, sample, rate limit)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podship.core import paths, records
from podship.core.event import places
from podship.core.models import MODELS
from podship.core.records import DEFAULT
from podship.core.rules.language import ESSENTIAL, TERMINAL, Apply, Context, Record
from podship.core.units import parse_duration


def action_of(spec: Any, context: Context) -> tuple[str, Apply, frozenset[str]]:
    if spec in TERMINAL:
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


def _keep_fields(spec: Any, context: Context) -> Apply:
    targets = _path_list(spec, context) + ESSENTIAL  # outputs need these to route and deduplicate

    def apply(record: Record, now: float) -> None:
        kept = paths.project(record, targets)
        record.clear()
        record.update(kept)

    return apply


def _mask(spec: Any, context: Context) -> Apply:
    if isinstance(spec, dict) and "what" in spec and "fields" not in spec:
        return _mask_meanings(spec, context)
    if not isinstance(spec, dict) or "fields" not in spec:
        raise context.error(
            "mask takes {what: [recipients, ...], with: text | hash} or {fields: [...], with: text | hash}"
        )
    targets, change = _path_list(spec["fields"], context), _masker(spec, context)
    held = records.meanings_held(targets) if context.schema == DEFAULT else ()

    def apply(record: Record, now: float) -> None:
        for path in targets:
            paths.replace(record, path, change)
        if held:  # what the field holds, hidden wherever the event holds it: in every model
            records.mask(record, held, change, done=tuple(targets))

    return apply


def _mask_meanings(spec: dict[str, Any], context: Context) -> Apply:
    """What to hide, by meaning: every place PoD holds it, in the event and the record's fields."""
    what = spec["what"] if isinstance(spec["what"], list) else [spec["what"]]
    unknown = [str(name) for name in what if name not in places.MEANINGS]
    if unknown or not what:
        raise context.error(
            f"mask what: unknown {', '.join(unknown) or '(none)'}; known: {', '.join(places.MEANINGS)}"
        )
    meanings, change = tuple(str(name) for name in what), _masker(spec, context)

    def apply(record: Record, now: float) -> None:
        records.mask(record, meanings, change)

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
