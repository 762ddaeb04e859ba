"""The plugin registry: names in the pipeline file -> options table, checks and constructor."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

from podship.errors import ConfigError
from podship.filters import log_filter as filter_rules
from podship.inputs import forward as in_forward
from podship.inputs import proofpoint as in_proofpoint
from podship.outputs import forward as out_forward
from podship.outputs import stdout as out_stdout
from podship.outputs import syslog as out_syslog
from podship.runtime.config import SERVICE, PipelineConfig
from podship.runtime.options import OptionTable

REGISTRY: dict[str, dict[str, ModuleType]] = {
    "inputs": {"proofpoint_pod": in_proofpoint, "forward": in_forward},
    "filters": {"log_filter": filter_rules},
    "outputs": {"stdout": out_stdout, "forward": out_forward, "syslog": out_syslog},
}


def all_tables() -> list[OptionTable]:
    tables = [SERVICE]
    for section in REGISTRY.values():
        tables.extend(module.OPTIONS for module in section.values())
    return tables


def table_for(section: str, name: str, path: str) -> OptionTable:
    modules = REGISTRY[section]
    if name not in modules:
        allowed = ", ".join(modules) or "(none yet)"
        raise ConfigError(
            f"unknown plugin {name!r} in {section}; available: {allowed}", file=path, plugin=name
        )
    table: OptionTable = modules[name].OPTIONS
    return table


def check_pipeline(config: PipelineConfig) -> None:
    """Checks per plugin, then across plugins (connector names are unique)."""
    for section in ("inputs", "filters", "outputs"):
        for plugin in getattr(config, section):
            checker = getattr(REGISTRY[section][plugin.name], "check", None)
            if checker is not None:
                checker(plugin.values, config.file)
                plugin.alias = str(plugin.values.get("alias") or plugin.alias)
    names = Counter(plugin.alias for plugin in config.inputs)
    for name, count in names.items():
        if count > 1:
            raise ConfigError(
                f"connector name {name!r} is used by {count} inputs; names must be unique",
                file=config.file,
                plugin="proofpoint_pod",
                option="alias",
            )
    _one_session_per_key_and_type(config)


def _one_session_per_key_and_type(config: PipelineConfig) -> None:
    """PoD allows one session per API key and type: two connectors sharing both would fight (409)."""
    seen: dict[tuple[str, str, str], str] = {}
    for plugin in config.inputs:
        if plugin.name != "proofpoint_pod":
            continue
        key = (plugin.values["api_key"].reveal(), plugin.values["type"], plugin.values["url"])
        if key in seen:
            problem = (
                f"connectors {seen[key]!r} and {plugin.alias!r} use the same API key for type "
                f"{plugin.values['type']!r}; PoD allows one session per key and type: give each its own key"
            )
            raise ConfigError(problem, file=config.file, plugin="proofpoint_pod", option="api_key")
        seen[key] = plugin.alias
