"""The layout keeps its promises: the core does no I/O and reaches no further than itself."""

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parent.parent / "plugins" / "podship" / "core"
IO_MODULES = {"asyncio", "os", "pathlib", "select", "selectors", "socket", "ssl", "subprocess", "threading"}


def imported(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}:{node.lineno}: a relative import"  # absolute only
            yield node.module or ""


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(CORE)))
def test_the_core_imports_only_itself_the_exception_root_and_no_io(path):
    names = set(imported(path))
    ours = {name for name in names if name.split(".")[0] in ("podship", "fluent")}
    assert {name for name in ours if not name.startswith(("podship.core", "podship.errors"))} == set()
    assert {name.split(".")[0] for name in names} & IO_MODULES == set()


SHIPPED = [p for p in CORE.parent.rglob("*.py") if p.parent.name not in ("devtools", "cli")]
MODELS = CORE / "models"


@pytest.mark.parametrize("path", sorted(SHIPPED), ids=lambda p: str(p.relative_to(CORE.parent)))
def test_nothing_below_the_cli_imports_the_devtools(path):
    assert [name for name in imported(path) if name.startswith("podship.devtools")] == []


@pytest.mark.parametrize("path", [CORE / "records.py", *sorted(MODELS.glob("*.py"))], ids=lambda p: p.name)
def test_records_and_models_read_the_event_through_its_readers_only(path):
    """A model that digs into the event by path knows PoD's shape: core/event/readers.py alone does."""
    calls = [node.func for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.Call)]
    names = {call.id for call in calls if isinstance(call, ast.Name)}
    names |= {call.attr for call in calls if isinstance(call, ast.Attribute)}
    assert names & {"dig", "section"} == set()


def test_the_core_has_modules_to_check():
    assert len(list(CORE.rglob("*.py"))) >= 10


def test_every_exception_podship_defines_is_under_the_one_root():
    import importlib
    import inspect
    import pkgutil

    import podship
    from podship.errors import PodshipError

    defined = []
    for module in pkgutil.walk_packages(podship.__path__, "podship."):
        if module.name == "podship.__main__":
            continue
        loaded = importlib.import_module(module.name)
        defined += [
            item
            for _, item in inspect.getmembers(loaded, inspect.isclass)
            if issubclass(item, BaseException) and item.__module__ == loaded.__name__
        ]
    assert len(defined) >= 8
    assert [item.__qualname__ for item in defined if not issubclass(item, PodshipError)] == []


def test_no_import_hides_inside_a_function():
    """Function-local imports hid an import circle (config -> plugins -> filter -> config)."""
    hidden = []
    for path in sorted((CORE.parent).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                for inner in ast.walk(node):
                    names = [inner.module or ""] if isinstance(inner, ast.ImportFrom) else []
                    names += [alias.name for alias in inner.names] if isinstance(inner, ast.Import) else []
                    if any(name.startswith("podship") for name in names):
                        hidden.append(f"{path.relative_to(CORE.parent)}:{inner.lineno}")
    assert hidden == []


def test_an_unknown_plugin_is_a_mistake_of_the_file(tmp_path):
    from podship.engine import config
    from podship.errors import ConfigError

    path = tmp_path / "p.yaml"
    path.write_text(
        "pipeline:\n  inputs: [{name: proofpoint_pod, cluster_id: c}]\n  outputs: [{name: stdot}]\n"
    )
    with pytest.raises(ConfigError) as caught:
        config.load(str(path), {})
    assert str(caught.value) == (
        f"{path}: plugin 'stdot': unknown plugin 'stdot' in outputs; available: stdout, forward, syslog"
    )
