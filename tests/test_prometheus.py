"""The shipped dashboard and alert rules, checked by the real thing: Debian's `prometheus` package
(the server and `promtool`), a podship child process, and the simulator with faults."""

import asyncio
import json
import time
import urllib.request

import yaml

from podship.devtools.simgen import Timeline
from podship.devtools.simulator import Faults
from tests.pipes import build, connector
from tests.prometheus import ALERTS, DASHBOARD, api, binary, dashboard_targets, promtool, running, substitute

# Every panel whose queries must return data against the simulator (the first: events/s above 0).
PANELS_WITH_DATA = [
    "Events/s per connector",
    "Lag behind the server",
    "Holes and archive hours",
    "Release waits, refusals and reconnects",
    "Output retries and failures",
    "Dead letters",
    "Connector mode",
    "Resident memory",
    # storage: added with issue 22
]
# What the simulator does to podship here, so that the counters the panels show can move: dropped
# live sessions, a refused handshake now and then, 409s while it releases a session, junk frames.
# Milder than the catch-up tests' profile: data must flow within seconds.
FAULTS = Faults(drop_every=1000, storm_every=6, storm_size=1, refuse_status=503, bad_every=400)


def test_the_dashboard_is_the_one_the_tests_evaluate():
    dashboard = json.loads(DASHBOARD.read_text())
    titles = [panel["title"] for panel in dashboard["panels"]]
    assert set(PANELS_WITH_DATA) <= set(titles)
    assert set(titles) - set(PANELS_WITH_DATA) <= {"Storage state"}  # issue 22 brings its gauge
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(titles)
    for panel in dashboard["panels"]:
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert [target["refId"] for target in panel["targets"]] == list("ABC")[: len(panel["targets"])]
    names = [variable["name"] for variable in dashboard["templating"]["list"]]
    assert names == ["datasource", "instance", "connector"]


def test_promtool_checks_the_rules_and_runs_a_unit_test_of_each_alert():
    check = promtool("check", "rules", str(ALERTS), text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "SUCCESS: 5 rules found" in check.stdout
    tests = ALERTS.with_name("podship-alerts.test.yaml")
    run = promtool("test", "rules", tests.name, cwd=tests.parent, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    alerts = {
        rule["alert"] for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]
    }
    cases = [case for test in yaml.safe_load(tests.read_text())["tests"] for case in test["alert_rule_test"]]
    assert {case["alertname"] for case in cases if case["exp_alerts"]} == alerts  # each one fires ...
    assert {case["alertname"] for case in cases if not case["exp_alerts"]} == alerts  # ... and holds back


async def test_promtool_accepts_podships_exposition(simulator, tmp_path):
    binary("promtool")  # skipped before anything starts when it is missing
    sim = await simulator(timeline=Timeline(), faults=Faults(bad_every=50))
    kinds = ("message", "maillog", "audit")
    pipeline, out = build(tmp_path, [connector(sim, kind) for kind in kinds], http_listen="127.0.0.1:0")
    task = asyncio.create_task(pipeline.run())
    try:
        body = await _metrics_once_records_flow(pipeline, timeout=30)
    finally:
        pipeline.stop.set()
        assert await task == 0
        out.close()
    check = promtool("check", "metrics", input=body)
    assert check.returncode == 0, (check.stdout + check.stderr).decode()
    text = body.decode()
    assert "# TYPE podship_build_info gauge" in text
    assert "# TYPE process_resident_memory_bytes gauge" in text
    assert 'podship_dead_letters_total{connector="acme-maillog"} ' in text


async def _metrics_once_records_flow(pipeline, timeout):
    deadline = time.monotonic() + timeout
    while not (pipeline.status_port and pipeline.records_out):
        assert time.monotonic() < deadline, f"no records within {timeout:g}s"
        await asyncio.sleep(0.05)
    return await asyncio.to_thread(_read, f"http://127.0.0.1:{pipeline.status_port}/metrics")


def _read(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


async def test_every_dashboard_query_returns_data_from_a_real_prometheus(simulator, tmp_path):
    sim = await simulator(timeline=Timeline(), faults=FAULTS, release_secs=1.0)
    async with running(tmp_path, sim) as stack:
        await _variables_have_values(stack)
        results = await _until_every_query_returns_data(stack, timeout=90)
        rules = await asyncio.to_thread(api, stack.base, "/api/v1/rules")
    loaded = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(loaded) == 5 and {rule["health"] for rule in loaded} == {"ok"}, loaded
    for line in _values(results):
        print(line)  # the values each query returned, for the closing note (`pytest -s`)


async def _variables_have_values(stack):
    """The dashboard's variables (`label_values(selector, label)`), through the label values API."""
    dashboard = json.loads(DASHBOARD.read_text())
    expected = {"instance": [stack.target], "connector": ["acme-maillog", "acme-message"]}
    for variable in dashboard["templating"]["list"][1:]:
        selector, label = (
            variable["definition"].removeprefix("label_values(").removesuffix(")").rsplit(", ", 1)
        )
        match = substitute(selector, stack.variables)
        values = await asyncio.to_thread(
            api, stack.base, f"/api/v1/label/{label}/values", **{"match[]": match}
        )
        assert values == expected[variable["name"]], (variable["name"], values)


async def _until_every_query_returns_data(stack, timeout):
    """Every query of the panels above, until each returns at least one series and events flow in
    every connector (a rate above 0: real samples, not only series); a timeout fails the test."""
    targets = [target for target in dashboard_targets() if target[0] in PANELS_WITH_DATA]
    deadline = time.monotonic() + timeout
    while True:
        results = [(target, await stack.query(substitute(target[2], stack.variables))) for target in targets]
        empty = [target for target, series in results if not series]
        rates = [
            float(one["value"][1]) for t, series in results if t[0] == PANELS_WITH_DATA[0] for one in series
        ]
        if not empty and len(rates) == len(stack.kinds) and min(rates) > 0:
            return results
        if time.monotonic() > deadline:
            raise AssertionError(
                f"within {timeout:g}s: no data for {empty}; events/s {rates}\n{stack.logs()}"
            )
        await asyncio.sleep(1)


def _values(results):
    for (title, legend, _), series in results:
        for one in series:
            name = legend
            for label, value in one["metric"].items():
                name = name.replace("{{" + label + "}}", value)
            yield f"{title} | {name} = {float(one['value'][1]):g}"
