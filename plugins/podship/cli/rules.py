"""`podship rules check | test | export`: work on a rules file without running a pipeline."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import yaml

from podship.core.event.envelope import Event
from podship.core.models import view
from podship.core.pod import event_identity
from podship.core.records import arrived
from podship.core.rules import RuleSet, Tally
from podship.core.rules_export import fluent_bit, vector
from podship.core.units import counted
from podship.engine.settings import PipelineConfig
from podship.errors import ConfigError
from podship.filters.fields import unknown_fields
from podship.filters.log_filter import LogFilterOptions, load_rules, read_document
from podship.runtime.text import read_text


def add_parser(commands: Any) -> None:
    rules = commands.add_parser("rules", help="check, try out or export a log-filter rules file")
    verbs = rules.add_subparsers(required=True, metavar="VERB")
    check = verbs.add_parser("check", help="compile a rules file and list its rules")
    check.add_argument("file")
    check.set_defaults(handler=_check)
    test = verbs.add_parser("test", help="the decision for each event of a JSON-lines file")
    test.add_argument("file")
    test.add_argument("events", help="PoD events or podship records, one JSON object per line")
    test.add_argument("--show", action="store_true", help="print each record, in the file's model")
    test.set_defaults(handler=_test)
    export = verbs.add_parser("export", help="the equivalent Fluent Bit filters or Vector transform")
    export.add_argument("--to", required=True, choices=("fluent-bit", "vector"))
    export.add_argument("file")
    export.set_defaults(handler=_export)


def check_fields(path: str, schema: str) -> None:
    """A field that no record of the file's model has (nor PoD's event, under one of its sections)
    would never match: a ConfigError, with the nearest known field."""
    problems = unknown_fields(read_document(path), schema)
    if problems:
        raise ConfigError("; ".join(problems), file=path)


def check_pipeline(config: PipelineConfig) -> None:
    """`podship check` and a start: the fields of every rules file the pipeline names."""
    for plugin in config.filters:
        if isinstance(plugin.values, LogFilterOptions):
            path = plugin.values.rules_file
            try:
                check_fields(path, load_rules(path, os.environ).schema)
            except ConfigError as exc:
                problem = f"rules file {exc.file}: {exc.problem}"
                raise ConfigError(
                    problem, file=config.file, plugin=plugin.name, option="rules_file"
                ) from None


def _check(args: argparse.Namespace) -> int:
    ruleset = load_rules(args.file, os.environ)
    check_fields(args.file, ruleset.schema)
    for rule in ruleset.rules:
        print(f"line {rule.line}: {rule.name}: {rule.action}")
    default = "keep" if ruleset.default_keep else "drop"
    print(
        f"podship: {args.file}: {counted(len(ruleset.rules), 'rule')} on {ruleset.schema} records, "
        f"default {default}",
        file=sys.stderr,
    )
    return 0


def _test(args: argparse.Namespace) -> int:
    ruleset = load_rules(args.file, os.environ)
    kept = total = 0
    tally = Tally()
    for event, seen in _events(args.events, ruleset.schema):  # seen: what the filter evaluates
        decision = tally.count(ruleset.decide(seen, 0.0))
        total, kept = total + 1, kept + decision.keep
        tags = f" tags={','.join(sorted(decision.tags))}" if decision.tags else ""
        verdict = "keep" if decision.keep else "drop"
        print(f"{event.event_id or '?'}\t{verdict}\t{decision.rule or '(default)'}{tags}")
        if args.show:
            print(json.dumps(seen, ensure_ascii=False, sort_keys=True))
    _summary(ruleset, tally, total, kept)
    return 0


def _summary(ruleset: RuleSet, tally: Tally, total: int, kept: int) -> None:
    print(f"\n{counted(total, 'event')}: {kept} kept, {total - kept} dropped")
    for rule in ruleset.rules:
        print(f"  {rule.name}: matched {tally.matched[rule.name]}, dropped {tally.dropped[rule.name]}")


def _events(path: str, schema: str) -> Iterator[tuple[Event, dict[str, Any]]]:
    """PoD events, or syslog-index records (podship's output), one per line; each with its
    rendering in `schema`, which a line that no reader can take fails to make."""
    for number, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
            event = _recorded(value) if "msg_class" in value else _arrived(value)
            seen = view(event, schema)
        except Exception as exc:  # whatever the line holds: one line naming it, never a traceback
            raise ConfigError(f"line {number}: not a PoD event or record: {exc}", file=path) from None
        yield event, seen


def _recorded(record: dict[str, Any]) -> Event:
    return Event.relay(record, int(record.get("timestamp") or 0))


def _arrived(event: dict[str, Any]) -> Event:
    kind = "audit" if "audit" in event else "maillog" if "sm" in event or "guid" not in event else "message"
    event_id, ts = event_identity(event, kind)
    return arrived(event, kind, event_id, ts, {"connector": "rules-test"})


def _export(args: argparse.Namespace) -> int:
    document = yaml.safe_load(read_text(args.file))
    schema = load_rules(args.file, os.environ).schema  # the same errors as everywhere else first
    entries, skipped = fluent_bit(document) if args.to == "fluent-bit" else vector(document)
    print(f"# rules on {schema} records: for a collector fed by an output with schema: {schema}")
    for warning in unknown_fields(document, schema):
        print(f"# warning: {warning}; the {args.to} filter will never match it")
    body = {"pipeline": {"filters": entries}} if args.to == "fluent-bit" else entries[0]
    print(yaml.dump(body, Dumper=_BlockDumper, sort_keys=False, allow_unicode=True), end="")
    if document.get("default") == "drop":
        print(f"# not exported to {args.to}: `default: drop` (drop what no rule keeps) has no equivalent")
    for name in skipped:
        print(f"# not exported to {args.to}: rule {name!r}: no faithful equivalent; keep it in podship")
    return 0


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (VRL programs) as readable `|` blocks."""


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _text)
