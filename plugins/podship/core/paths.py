"""Field paths into a record: `subject`, `msg_origin.source`, or a list of segments for keys that
contain dots: `[proofpoint_on_demand, filter, modules, dmarc, records, "smtp.mailfrom"]`.

A path that meets a list goes into every element, so one path can name many values (PoD header
values are lists); `values` returns all of them, flattened.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Path = tuple[str, ...]


def parse_path(spec: object) -> Path:
    """A path from `a.b.c` or `[a, b, "c.d"]`; ValueError says what is wrong."""
    if isinstance(spec, str) and spec and all(spec.split(".")):
        return tuple(spec.split("."))
    if isinstance(spec, list) and spec and all(isinstance(part, str) and part != "" for part in spec):
        return tuple(spec)
    raise ValueError(f"a field is a dotted name or a list of key names, got {spec!r}")


def render(path: Path) -> str:
    return ".".join(path) if not any("." in part for part in path) else repr(list(path))


def values(record: Any, path: Path) -> list[Any]:
    """Every value at `path`, lists flattened; empty when the path is missing."""
    return list(_walk(record, path, 0))


def _walk(node: Any, path: Path, depth: int) -> Iterator[Any]:
    if depth == len(path):
        if isinstance(node, list):
            yield from node
        else:
            yield node
        return
    if isinstance(node, dict):
        if path[depth] in node:
            yield from _walk(node[path[depth]], path, depth + 1)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item, path, depth)


def lookup(record: Any, path: Path) -> tuple[bool, Any]:
    """(True, value) where `path` leads through maps alone to a value, else (False, None)."""
    node = record
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return False, None
        node = node[key]
    return True, node


def exists(record: Any, path: Path) -> bool:
    return any(True for _ in _walk(record, path, 0))


def remove(record: dict[str, Any], path: Path) -> None:
    """Delete the key at `path` (in every element where the path crosses lists)."""
    for parent in _parents(record, path):
        parent.pop(path[-1], None)


def assign(record: dict[str, Any], path: Path, value: Any) -> None:
    """Set `path` to `value`, creating maps on the way."""
    node = record
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    node[path[-1]] = value


def _parents(record: Any, path: Path) -> Iterator[dict[str, Any]]:
    yield from (node for node in _walk_maps(record, path[:-1], 0) if isinstance(node, dict))


def _walk_maps(node: Any, path: Path, depth: int) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _walk_maps(item, path, depth)
    elif depth == len(path):
        yield node
    elif isinstance(node, dict) and path[depth] in node:
        yield from _walk_maps(node[path[depth]], path, depth + 1)


def replace(record: Any, path: Path, change: Any) -> None:
    """Apply `change` (value -> value) to every value at `path`, element-wise inside lists."""
    for parent in _parents(record, path):
        key = path[-1]
        if key in parent:
            current = parent[key]
            parent[key] = [change(item) for item in current] if isinstance(current, list) else change(current)


def project(record: dict[str, Any], keep: list[Path]) -> dict[str, Any]:
    """A new record with only the paths in `keep` (whole subtrees)."""
    result: dict[str, Any] = {}
    for path in keep:
        node: Any = record
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None:
            assign(result, path, node)
    return result
