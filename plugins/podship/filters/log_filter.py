"""`log_filter` filter: the rules of a YAML file applied to every record.

The file is read once and compiled; SIGHUP re-reads it, and a broken new file keeps the old rules
running and logs why. Intentional drops are counted per rule, apart from failures.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from podship.core import records
from podship.core.event.envelope import Event
from podship.core.models import view
from podship.core.records import DEFAULT
from podship.core.rules import Decision, RuleError, RuleSet, Tally, compile_rules
from podship.core.units import counted
from podship.errors import ConfigError
from podship.runtime.options import Option, OptionTable
from podship.runtime.plugin import Plugin
from podship.runtime.text import expand, read_text


@dataclass(frozen=True, slots=True)
class LogFilterOptions:
    """What `OPTIONS` validates to (the table checks these fields against its options)."""

    rules_file: str


OPTIONS = OptionTable(
    plugin="log_filter",
    kind="filter",
    summary="Drops, keeps, edits and tags records by the declarative rules of a YAML file.",
    options=(Option("rules_file", "str", None, "The rules file (see Log-filter rules).", required=True),),
    shape=LogFilterOptions,
)
log = logging.getLogger("podship.filter")


class _LineLoader(yaml.SafeLoader):
    """Keeps each mapping's line number under `__line__`, so errors can point at the rule."""


def _mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_line)


def read_document(path: str) -> Any:
    """A rules file parsed, each mapping with its `__line__`; YAML errors name file and line."""
    text = read_text(path)
    try:
        return yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass: safe
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        raise ConfigError(f"{where}invalid YAML: {getattr(exc, 'problem', exc)}", file=path) from None


def load_rules(path: str, env: Mapping[str, str]) -> RuleSet:
    """Read and compile a rules file; every mistake becomes a ConfigError naming file and line."""
    document = read_document(path)
    try:
        mask_key = str(expand(document.get("mask_key", ""), env)) if isinstance(document, dict) else ""
        return compile_rules(document, mask_key.encode())
    except KeyError as missing:
        raise ConfigError(f"mask_key: environment variable {missing.args[0]} is not set", file=path) from None
    except RuleError as exc:
        raise ConfigError(str(exc), file=path) from None


def check(options: LogFilterOptions, path: str) -> LogFilterOptions:
    """Compile the rules at configuration time, so `podship check` reports their mistakes."""
    try:
        load_rules(options.rules_file, os.environ)
    except ConfigError as exc:
        problem = f"rules file {exc.file}: {exc.problem}"
        raise ConfigError(problem, file=path, plugin=OPTIONS.plugin, option="rules_file") from None
    return options


class LogFilter:
    """The filter stage of a pipeline."""

    def __init__(self, options: LogFilterOptions, env: Mapping[str, str]) -> None:
        self.path, self.env = options.rules_file, env
        self.rules = load_rules(self.path, env)
        self.tally = Tally()

    def decide(self, event: Event) -> Decision:
        """The rules decide on the event in their model (`schema:` in the file, syslog_index by
        default); what they edit is edited for every output."""
        schema, seen = self.rules.schema, view(event, self.rules.schema)
        decision = self.tally.count(self.rules.decide(seen, time.time()))
        record_edited, event_edited = self.rules.edited(decision)
        if record_edited:
            if schema == DEFAULT:  # its envelope fields are the event's, which every model reads
                records.edited(seen, event)
            event.touched(schema, event_edited)
        return decision

    def reload(self) -> bool:
        """Re-read the file (SIGHUP); on a mistake keep the running rules and say why."""
        try:
            self.rules = load_rules(self.path, self.env)
        except ConfigError as exc:
            log.error("rules not reloaded, the old ones keep running: %s", exc)
            return False
        log.info("rules reloaded from %s: %s", self.path, counted(len(self.rules.rules), "rule"))
        return True

    def counters(self) -> dict[str, dict[str, int]]:
        return self.tally.of([rule.name for rule in self.rules.rules])


PLUGIN = Plugin("log_filter", "filters", OPTIONS, lambda site, options: LogFilter(options, site.env), check)
