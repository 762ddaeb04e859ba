"""The one table of plugins: each plugin's descriptor, by section and name.

A table per section, each typed by what its plugins build, so that mypy checks every plugin
against the protocol the engine drives it through (`runtime/plugin.py`)."""

from __future__ import annotations

from podship.engine.settings import SERVICE
from podship.errors import ConfigError
from podship.filters import log_filter
from podship.inputs import forward as forward_input
from podship.inputs import proofpoint
from podship.outputs import forward, stdout, syslog
from podship.runtime.options import OptionTable
from podship.runtime.plugin import Filter, Input, Output, Plugin

INPUTS: dict[str, Plugin[Input]] = {
    plugin.name: plugin for plugin in (proofpoint.PLUGIN, forward_input.PLUGIN)
}
FILTERS: dict[str, Plugin[Filter]] = {log_filter.PLUGIN.name: log_filter.PLUGIN}
OUTPUTS: dict[str, Plugin[Output]] = {
    plugin.name: plugin for plugin in (stdout.PLUGIN, forward.PLUGIN, syslog.PLUGIN)
}
Described = Plugin[Input] | Plugin[Filter] | Plugin[Output]  # a plugin of any section
SECTIONS = ("inputs", "filters", "outputs")
PLUGINS: dict[str, dict[str, Described]] = {
    "inputs": {**INPUTS},
    "filters": {**FILTERS},
    "outputs": {**OUTPUTS},
}


def all_tables() -> list[OptionTable]:
    return [SERVICE, *(plugin.options for plugins in PLUGINS.values() for plugin in plugins.values())]


def plugin_for(section: str, name: str, path: str) -> Described:
    """The plugin a pipeline file names; an unknown name is a mistake of the file, never a default."""
    plugins = PLUGINS[section]
    if name not in plugins:
        raise ConfigError(
            f"unknown plugin {name!r} in {section}; available: {', '.join(plugins)}", file=path, plugin=name
        )
    return plugins[name]
