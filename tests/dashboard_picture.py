"""Draws the README's picture of the dashboard: its panels' queries, as a real Prometheus answers
them while it scrapes podship reading the simulator (with faults), drawn with matplotlib because
Grafana is not something the package registries hold.

    .venv/bin/pip install matplotlib
    .venv/bin/python -m tests.dashboard_picture --minutes 4 --out configs/grafana/podship-dashboard.png

The simulator's clock runs 20 times faster than the wall clock, so that the archive completes the
hours of the first start's backfill within minutes and the holes close; podship keeps its defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults, SimOptions, Simulator
from tests.prometheus import DASHBOARD, running, substitute

FAULTS = Faults(drop_every=1500, storm_every=6, storm_size=1, refuse_status=503, bad_every=1000)


async def record(minutes: float) -> list[tuple[dict, list[tuple[str, list]]]]:
    """Each panel with, per query, its legend and its series over the run (2 s steps)."""
    sim = Simulator(SimOptions(timeline=Timeline(), speed=20.0, faults=FAULTS, release_secs=1.0))
    await sim.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            async with running(Path(folder), sim) as stack:
                start = time.time()
                await asyncio.sleep(minutes * 60)
                return await _ranges(stack, start, time.time())
    finally:
        await sim.stop()


async def _ranges(stack, start: float, end: float) -> list[tuple[dict, list[tuple[str, list]]]]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    window = {"start": f"{start:.0f}", "end": f"{end:.0f}", "step": "2"}
    drawn = []
    for panel in panels:
        queries = [substitute(target["expr"], stack.variables) for target in panel["targets"]]
        answers = [await stack.query(query, **window) for query in queries]
        legends = [target["legendFormat"] for target in panel["targets"]]
        drawn.append(
            (panel, [(legend, series, start) for legend, series in zip(legends, answers, strict=True)])
        )
    return drawn


def _name(legend: str, labels: dict[str, str]) -> str:
    for label, value in labels.items():
        legend = legend.replace("{{" + label + "}}", value)
    return legend


def draw(panels, out: Path) -> None:
    """A grid of the panels, in the dashboard's order, on Grafana's dark background."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.style.use("dark_background")
    figure, axes = plt.subplots(3, 3, figsize=(15, 10), dpi=72)
    for axis, (panel, queries) in zip(axes.flat, panels, strict=True):
        _panel(axis, panel, queries)
    figure.suptitle("podship dashboard against the simulator (a real Prometheus, drawn with matplotlib)")
    figure.tight_layout()
    figure.savefig(out, dpi=72)


def _panel(axis, panel: dict, queries) -> None:
    axis.set_title(panel["title"], fontsize=11, loc="left")
    axis.set_xlabel("minutes", fontsize=8)
    axis.tick_params(labelsize=8)
    series = [(legend, one, start) for legend, answer, start in queries for one in answer]
    if not series:
        axis.text(0.5, 0.5, "no data", ha="center", va="center", transform=axis.transAxes)
    elif panel["type"] == "state-timeline":
        _states(axis, series)
    else:
        _lines(axis, panel["fieldConfig"]["defaults"].get("unit", ""), series)


def _lines(axis, unit: str, series) -> None:
    scale = {"bytes": 2**20}.get(unit, 1)
    axis.set_ylabel({"bytes": "MiB", "s": "seconds"}.get(unit, ""), fontsize=8)
    top = 0.0
    for legend, one, start in series:
        x = [(float(t) - start) / 60 for t, _ in one["values"]]
        y = [float(v) / scale for _, v in one["values"]]
        axis.plot(x, y, linewidth=1.2, label=_name(legend, one["metric"]))
        top = max(top, *y)
    axis.set_ylim(bottom=0, top=top * 1.15 or 1)  # a counter at rest is a line on the floor, not mid-air
    axis.legend(fontsize=7, loc="upper left", ncol=2)


MODE_COLOURS = {"live": "tab:green", "backfill": "tab:blue", "idle": "tab:gray", "failed": "tab:red"}


def _states(axis, series) -> None:
    """One row per connector, a mark per step coloured by the mode it was in (Grafana's state timeline)."""
    rows = sorted({one["metric"]["connector"] for _, one, _ in series})
    for _, one, start in series:
        x = [(float(t) - start) / 60 for t, _ in one["values"]]
        row, mode = rows.index(one["metric"]["connector"]), one["metric"]["mode"]
        axis.scatter(x, [row] * len(x), marker="|", s=300, color=MODE_COLOURS.get(mode, "white"), label=mode)
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    axis.set_ylim(-0.5, len(rows) - 0.5)
    handles, labels = axis.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    axis.legend(unique.values(), unique.keys(), fontsize=7, loc="upper right")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--out", type=Path, default=Path("configs/grafana/podship-dashboard.png"))
    args = parser.parse_args()
    draw(asyncio.run(record(args.minutes)), args.out)
    print(f"{args.out}: {args.out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
