"""The layout keeps its promises: the core does no I/O and reaches no further than itself."""

import ast
import graphlib
from collections import defaultdict
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


@pytest.mark.parametrize(
    "path",
    [CORE / "records.py", CORE / "record_fields.py", *sorted(MODELS.glob("*.py"))],
    ids=lambda p: p.name,
)
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


PACKAGE = CORE.parent
# The folders from the ground up (../shared/design.md): each imports only folders on floors below it;
# `__init__` is the package's own module (the version), `__main__` is `python -m podship`.
FLOORS = (
    ("errors", "__init__"),
    ("core",),
    ("runtime",),
    ("inputs", "filters", "outputs"),
    ("engine",),
    ("devtools",),
    ("cli",),
    ("__main__",),
)
FLOOR = {folder: floor for floor, folders in enumerate(FLOORS) for folder in folders}
PLUGINS = ("inputs", "filters", "outputs")


def _folder(module):
    """`podship.engine.pipeline` -> `engine`; `podship.errors` -> `errors`; `podship` -> `__init__`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def folder_imports():
    """{(folder, imported folder): [the files and modules that make the arrow]}, from the source."""
    arrows = defaultdict(list)
    for path in sorted(PACKAGE.rglob("*.py")):
        here = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
        for name in imported(path):
            if name.split(".")[0] == "podship" and _folder(name) != here:
                arrows[here, _folder(name)].append(f"{path.relative_to(PACKAGE)}: {name}")
    return arrows


def test_every_folder_has_a_floor():
    folders = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in PACKAGE.rglob("*.py")}
    assert folders - set(FLOOR) == set()


def test_the_folders_import_one_way_without_a_circle():
    arrows = folder_imports()
    graph = defaultdict(set)
    for here, there in arrows:
        graph[here].add(there)
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError, naming the circle
    up = {arrow: files for arrow, files in arrows.items() if FLOOR[arrow[1]] >= FLOOR[arrow[0]]}
    assert up == {}, "an import runs up, or across a floor"


@pytest.mark.parametrize(
    ("folder", "never"),
    [
        ("core", ("runtime", *PLUGINS, "engine", "devtools", "cli")),
        ("runtime", (*PLUGINS, "engine", "devtools", "cli")),
        *((plugin, ("engine", "devtools", "cli")) for plugin in PLUGINS),
        ("engine", ("devtools", "cli")),
    ],
)
def test_what_a_folder_never_imports(folder, never):
    arrows = folder_imports()
    assert {there: arrows[folder, there] for there in never if (folder, there) in arrows} == {}


def _names(path):
    """What a file imports, with `from podship.runtime import options` also as `podship.runtime.options`."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            yield node.module or ""
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def test_the_runtime_holds_only_what_the_plugins_use():
    """runtime/ is what the plugins use: each of its modules is reached from a plugin's imports,
    directly or through another runtime module; what only drives the plugins belongs in engine/."""
    runtime = {f"podship.runtime.{path.stem}": path for path in (PACKAGE / "runtime").glob("*.py")}
    reached, todo = set(), [path for folder in PLUGINS for path in (PACKAGE / folder).glob("*.py")]
    while todo:
        for name in set(_names(todo.pop())) & set(runtime) - reached:
            reached.add(name)
            todo.append(runtime[name])
    assert set(runtime) - reached == {"podship.runtime.__init__"}


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
