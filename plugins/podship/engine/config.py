"""The pipeline file: Fluent Bit's YAML shape, validated against each plugin's options table.

```yaml
service: {state_dir: ./state, log_level: info}
pipeline:
  inputs:  [{name: proofpoint_pod, ...}]
  filters: [...]
  outputs: [{name: stdout}]
```
`${VAR}` (or `${VAR:-default}`) in a value is taken from the environment, so that API keys stay out
of the file and off the command line. Every error names the file, the plugin and the option.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from podship.engine.checks import check_pipeline
from podship.engine.registry import plugin_for
from podship.engine.settings import SERVICE, PipelineConfig, PluginConfig, ServiceOptions
from podship.errors import ConfigError
from podship.runtime.options import OptionTable
from podship.runtime.text import VARIABLE, expand, read_yaml

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Shape = TypeVar("Shape", bound="DataclassInstance")


def load(path: str, env: Mapping[str, str] | None = None) -> PipelineConfig:
    """Read, expand and validate a pipeline file."""
    document = read_yaml(path)
    if not isinstance(document, dict):
        raise ConfigError("expected a mapping with 'service' and 'pipeline'", file=path)
    return parse(document, path, os.environ if env is None else env)


def load_service(path: str) -> ServiceOptions:
    """Only the `service` section (for `podship status`, which needs no API key)."""
    document = read_yaml(path)
    section = document.get("service") if isinstance(document, dict) else None
    return _validate(SERVICE, section or {}, path, os.environ)


def parse(document: dict[str, Any], path: str, env: Mapping[str, str]) -> PipelineConfig:
    _only(document, ("service", "pipeline"), path, "")
    service = _validate(SERVICE, document.get("service") or {}, path, env)
    _check_listen(service.http_listen, path)
    pipeline = document.get("pipeline")
    if not isinstance(pipeline, dict):
        raise ConfigError("'pipeline' is required: a mapping with inputs, filters and outputs", file=path)
    _only(pipeline, ("inputs", "filters", "outputs"), path, "pipeline")
    config = PipelineConfig(path, service)
    for section in ("inputs", "filters", "outputs"):
        getattr(config, section).extend(_section(pipeline, section, path, env))
    if not config.inputs or not config.outputs:
        raise ConfigError(
            "the pipeline needs at least one input and one output", file=path, plugin="pipeline"
        )
    check_pipeline(config)
    return config


def listen_address(text: str) -> tuple[str, int]:
    """`HOST:PORT`, `[IPv6]:PORT` or `:PORT` (loopback) -> (host, port); ValueError says what is wrong."""
    text = text.strip()
    if text.count(":") > 1 and not text.startswith("["):
        raise ValueError(f"write an IPv6 address in brackets, e.g. [::1]:2021, got {text!r}")
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(
            f"expected HOST:PORT with a port from 0 to 65535 (e.g. 127.0.0.1:2021), got {text!r}"
        )
    if host.startswith("["):
        if not host.endswith("]") or not _is_ip(host[1:-1]):
            raise ValueError(f"expected [IPv6 address]:PORT, got {text!r}")
        host = host[1:-1]
    return host or "127.0.0.1", int(port)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _check_listen(listen: str, path: str) -> None:
    if not listen:
        return
    try:
        listen_address(listen)
    except ValueError as exc:
        raise ConfigError(str(exc), file=path, plugin="service", option="http_listen") from None


def _only(mapping: dict[str, Any], allowed: tuple[str, ...], path: str, plugin: str) -> None:
    for key in mapping:
        if key not in allowed:
            raise ConfigError(
                f"unknown section {key!r}; allowed: {', '.join(allowed)}", file=path, plugin=plugin
            )


def _section(pipeline: dict[str, Any], section: str, path: str, env: Mapping[str, str]) -> list[PluginConfig]:
    entries = pipeline.get(section) or []
    if not isinstance(entries, list):
        raise ConfigError(f"'{section}' must be a list of plugins", file=path, plugin="pipeline")
    plugins = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ConfigError(f"entry {index + 1} must be a mapping with 'name'", file=path, plugin=section)
        table = plugin_for(section, str(entry["name"]), path).options
        values = _validate(table, entry, path, env)
        alias = str(table.mapping(values).get("alias") or "")
        plugins.append(PluginConfig(table.plugin, values, alias))
    return plugins


# Options that name a file or folder: relative ones are taken from the pipeline file's folder, as
# Fluent Bit and Vector do, so the working directory of whoever starts podship does not matter.
PATH_OPTIONS = ("state_dir", "rules_file", "tls_ca_file", "tls_cert_file", "tls_key_file", "api_key_file")


def _validate(table: OptionTable[Shape], raw: Any, path: str, env: Mapping[str, str]) -> Shape:
    if not isinstance(raw, dict):
        raise ConfigError("expected a mapping of options", file=path, plugin=table.plugin)
    expanded = {key: _expanded(table, str(key), value, path, env) for key, value in raw.items()}
    values = table.validate(expanded, file=path)
    return table.replaced(values, **_paths(table.mapping(values), path))


def _paths(values: dict[str, Any], path: str) -> dict[str, str]:
    """The path options that are set, taken from the folder of the pipeline file."""
    folder = Path(path).absolute().parent
    given = {name: values.get(name) for name in PATH_OPTIONS}
    return {name: str(folder / Path(value).expanduser()) for name, value in given.items() if value}


def _expanded(
    table: OptionTable[DataclassInstance], key: str, value: Any, path: str, env: Mapping[str, str]
) -> Any:
    """`${VAR}` expanded; an API key must come from there (or a file), and a variable it names
    must not be empty."""

    def mistake(problem: str) -> ConfigError:
        return ConfigError(problem, file=path, plugin=table.plugin, option=key)

    if key == "api_key" and isinstance(value, str | int) and not VARIABLE.search(str(value)):
        raise mistake("a key written in the file is refused: write ${POD_API_KEY} or use api_key_file")
    try:
        expanded = expand(value, env)
    except KeyError as missing:
        raise mistake(f"environment variable {missing.args[0]} is not set") from None
    names = VARIABLE.findall(value) if isinstance(value, str) else []
    if key in table.secrets() and names and expanded == "":
        raise mistake(f"environment variable {names[0][0]} is empty")
    return expanded


DEPRECATED = frozenset({"schema_original", "original_event"})


def masked(config: PipelineConfig) -> dict[str, Any]:
    """The effective configuration as a pipeline file writes it, every secret as `***`, for
    `podship check`: durations and sizes in their units (`1s`, `64MiB`), as check accepts them."""

    def entries(section: str, plugins: list[PluginConfig]) -> list[dict[str, Any]]:
        tables = [plugin_for(section, plugin.name, config.file).options for plugin in plugins]
        shown = [{"name": p.name, **t.shown(p.values)} for p, t in zip(plugins, tables, strict=True)]
        # The deprecated names are resolved into each output's `original`, which is shown instead.
        return [{k: v for k, v in entry.items() if k not in DEPRECATED} for entry in shown]

    sections = ("inputs", "filters", "outputs")
    return {
        "service": SERVICE.shown(config.service),
        "pipeline": {section: entries(section, getattr(config, section)) for section in sections},
    }
