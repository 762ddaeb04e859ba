"""Checks of a validated pipeline: each plugin's own, then those across plugins."""

from __future__ import annotations

from collections import Counter

from podship.engine import originals
from podship.engine.registry import PLUGINS, SECTIONS
from podship.engine.settings import PipelineConfig
from podship.errors import ConfigError
from podship.inputs.proofpoint_options import ProofpointOptions


def check_pipeline(config: PipelineConfig) -> None:
    """Checks per plugin, then across plugins (connector names are unique)."""
    for section in SECTIONS:
        for plugin in getattr(config, section):
            descriptor = PLUGINS[section][plugin.name]
            plugin.values = descriptor.checked(plugin.values, config.file)
            plugin.alias = str(descriptor.options.mapping(plugin.values).get("alias") or plugin.alias)
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
    originals.resolve(config)


def _one_session_per_key_and_type(config: PipelineConfig) -> None:
    """PoD allows one session per API key and type: two connectors sharing both would fight (409)."""
    seen: dict[tuple[str, str, str], str] = {}
    for plugin in config.inputs:
        values = plugin.values
        if not isinstance(values, ProofpointOptions) or values.api_key is None:
            continue
        key = (values.api_key.reveal(), values.type, values.url)
        if key in seen:
            problem = (
                f"connectors {seen[key]!r} and {plugin.alias!r} use the same API key for type "
                f"{values.type!r}; PoD allows one session per key and type: give each its own key"
            )
            raise ConfigError(problem, file=config.file, plugin="proofpoint_pod", option="api_key")
        seen[key] = plugin.alias
