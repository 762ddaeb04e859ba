"""Records per second through the log-filter stage, for rule sets of 10, 100 and 1,000 rules.

Every rule is evaluated against every record (none matches, the worst case), over real simulator
records, on one core. Beside each figure: an empty rule set measured in the same run.

    python tests/benchmarks/rules.py
"""

from __future__ import annotations

import time

from podship.core.pod import event_identity
from podship.core.records import arrived, render
from podship.core.rules import RuleSet, compile_rules
from podship.devtools.simgen import Timeline


def sample_records(count: int = 3000) -> list[dict[str, object]]:
    line, records = Timeline(seed=5), []
    for k in range(count):
        kind = ("message", "maillog", "maillog")[k % 3]
        event = line.event(kind, k)
        event_id, ts = event_identity(event, kind)
        taken = arrived(event, kind, event_id, ts, {"tenant_name": "acme", "connector": kind})
        records.append(render(taken, "compact"))
    return records


def mixed(i: int) -> dict[str, object]:
    """Rules of the kinds teams write, none of which matches the sample."""
    conditions = [
        {"field": "subject", "op": "contains", "value": f"newsletter-{i}"},
        {"field": "envelope_from", "op": "regex", "value": f"^bounce-{i}@"},
        {"field": "src_ip", "op": "cidr", "value": [f"198.51.{i % 256}.0/24"]},
        {"field": "spam_score", "op": "gt", "value": 1000 + i},
        {"field": "disposition", "op": "in", "value": [f"never-{i}", "nothing"]},
        {
            "all": [
                {"field": "direction", "op": "eq", "value": "sideways"},
                {"field": "helo", "op": "endswith", "value": f".x{i}"},
            ]
        },
    ]
    return {"name": f"r{i}", "when": conditions[i % len(conditions)], "action": "drop"}


def equality(i: int) -> dict[str, object]:
    return {
        "name": f"q{i}",
        "when": {"field": "queue_id", "op": "in", "value": [f"nq{i}", f"nz{i}"]},
        "action": "drop",
    }


def rate(ruleset: RuleSet, records: list[dict[str, object]], seconds: float = 1.0) -> float:
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for record in records:
            ruleset.decide(record, 0.0)
        done += len(records)
    return done / (time.perf_counter() - started)


def main() -> None:
    records = sample_records()
    empty = rate(compile_rules({"rules": []}), records)
    print(f"empty rule set (the loop itself): {empty:,.0f} records/s")
    for count in (10, 20, 100, 1000):
        figure = rate(compile_rules({"rules": [mixed(i) for i in range(count)]}), records)
        print(f"{count:>5} mixed rules:           {figure:>10,.0f} records/s")
    small = rate(compile_rules({"rules": [equality(i) for i in range(10)]}), records)
    large = rate(compile_rules({"rules": [equality(i) for i in range(1000)]}), records)
    print(f"   10 eq/in rules, one field: {small:>10,.0f} records/s")
    print(
        f" 1000 eq/in rules, one field: {large:>10,.0f} records/s  ({large / small:.2f} of the 10-rule rate)"
    )


if __name__ == "__main__":
    main()
