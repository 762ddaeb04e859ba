"""The one table of plugins: each plugin's descriptor, by section and name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podship.errors import ConfigError
from podship.filters import log_filter
from podship.inputs import forward as forward_input
from podship.inputs import proofpoint
from podship.outputs import forward, stdout, syslog
from podship.runtime.options import OptionTable
from podship.runtime.plugin import Registered
from podship.runtime.settings import SERVICE

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DESCRIPTORS: tuple[Registered, ...] = (
    proofpoint.PLUGIN,
    forward_input.PLUGIN,
    log_filter.PLUGIN,
    stdout.PLUGIN,
    forward.PLUGIN,
    syslog.PLUGIN,
)
SECTIONS = ("inputs", "filters", "outputs")
PLUGINS: dict[str, dict[str, Registered]] = {
    section: {plugin.name: plugin for plugin in DESCRIPTORS if plugin.section == section}
    for section in SECTIONS
}


def all_tables() -> list[OptionTable[DataclassInstance]]:
    return [SERVICE, *(plugin.options for plugin in DESCRIPTORS)]


def plugin_for(section: str, name: str, path: str) -> Registered:
    """The plugin a pipeline file names; an unknown name is a mistake of the file, never a default."""
    plugins = PLUGINS[section]
    if name not in plugins:
        raise ConfigError(
            f"unknown plugin {name!r} in {section}; available: {', '.join(plugins)}", file=path, plugin=name
        )
    return plugins[name]
