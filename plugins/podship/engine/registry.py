"""The one table of plugins: each plugin's descriptor, by section and name.

A table per section, each typed by what its plugins build, so that mypy checks every plugin
against the protocol the engine drives it through (`runtime/plugin.py`); each entry carries its
options class (its table's `shape`), and hands the plugin back only the options that table
validated."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podship.engine.settings import SERVICE
from podship.errors import ConfigError
from podship.filters import log_filter
from podship.inputs import forward as forward_input
from podship.inputs import proofpoint
from podship.outputs import forward, stdout, syslog
from podship.runtime.options import OptionTable
from podship.runtime.plugin import Filter, Input, Output, Registered

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

INPUTS: dict[str, Registered[Input]] = {
    plugin.name: plugin for plugin in (proofpoint.PLUGIN, forward_input.PLUGIN)
}
FILTERS: dict[str, Registered[Filter]] = {log_filter.PLUGIN.name: log_filter.PLUGIN}
OUTPUTS: dict[str, Registered[Output]] = {
    plugin.name: plugin for plugin in (stdout.PLUGIN, forward.PLUGIN, syslog.PLUGIN)
}
Described = Registered[Input] | Registered[Filter] | Registered[Output]  # a plugin of any section
SECTIONS = ("inputs", "filters", "outputs")
PLUGINS: dict[str, dict[str, Described]] = {
    "inputs": {**INPUTS},
    "filters": {**FILTERS},
    "outputs": {**OUTPUTS},
}


def all_tables() -> list[OptionTable[DataclassInstance]]:
    return [SERVICE, *(plugin.options for plugins in PLUGINS.values() for plugin in plugins.values())]


def plugin_for(section: str, name: str, path: str) -> Described:
    """The plugin a pipeline file names; an unknown name is a mistake of the file, never a default."""
    plugins = PLUGINS[section]
    if name not in plugins:
        raise ConfigError(
            f"unknown plugin {name!r} in {section}; available: {', '.join(plugins)}", file=path, plugin=name
        )
    return plugins[name]
