"""Where a py-spy profile's time went: the share of samples in which each function is on the stack.

    python tests/benchmarks/profile.py /tmp/prof/message-stdout.raw [--top 25]

Reads py-spy's raw format (`record --format raw`: one collapsed stack and its sample count per line)
and prints, per function (name and file), the share of samples with it anywhere on the stack
(inclusive) and at the top (self).
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path


def shares(path: Path) -> tuple[Counter[str], Counter[str], int]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_name(frame) for frame in stack.split(";")]
        total += int(count)
        own[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    return inclusive, own, total


def _name(frame: str) -> str:
    """`normalise (podship/core/records.py:93)` -> `normalise (core/records.py)`: lines merged."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rpartition(":")[0] or where.rstrip(")")
    return f"{name} ({'/'.join(where.split('/')[-2:])})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    inclusive, own, total = shares(args.profile)
    print(f"{total} samples; inclusive, self, function")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:5.1f}% {100 * own[name] / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
