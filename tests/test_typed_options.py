"""Each plugin's options are a frozen, typed object that its one table builds and checks."""

from __future__ import annotations

import dataclasses

import pytest

from podship.core.connector import Settings
from podship.core.coverage import Timing
from podship.engine.registry import PLUGINS, all_tables
from podship.errors import ConfigError
from podship.inputs.forward import OPTIONS as FORWARD_INPUT
from podship.inputs.proofpoint_options import OPTIONS as POD
from podship.inputs.proofpoint_options import check
from podship.outputs.forward import OPTIONS as FORWARD
from podship.outputs.stdout import OPTIONS as STDOUT
from podship.outputs.stdout import StdoutOptions
from podship.runtime.options import Option, OptionTable, Secret, shape_problems
from tests.helpers import options

POD_REQUIRED = {"cluster_id": "c", "tenant": "acme"}


@pytest.mark.parametrize("table", all_tables(), ids=lambda table: f"{table.kind}-{table.plugin}")
def test_every_options_class_has_a_field_of_the_right_type_per_option(table):
    assert shape_problems(table.shape, table.options) == []


@dataclasses.dataclass(frozen=True, slots=True)
class _Drifted:
    port: str
    extra: int


def test_a_class_that_drifts_from_its_table_is_refused_at_import():
    opts = (Option("port", "int", 1, "Port."), Option("key", "secret", None, "Key."))
    problems = shape_problems(_Drifted, opts)
    assert "no field for option 'key'" in problems
    assert "field 'extra' is no option" in problems
    assert any(problem.startswith("field 'port' is <class 'str'>") for problem in problems)
    with pytest.raises(TypeError, match="_Drifted does not match the drift table"):
        OptionTable("drift", "output", "A drifted table.", opts, _Drifted)


def test_a_default_of_another_type_is_refused():
    @dataclasses.dataclass(frozen=True, slots=True)
    class Timed:
        wait: float

    assert shape_problems(Timed, (Option("wait", "duration", 30, "An int, not seconds as float."),)) == [
        "option 'wait' has a default of another type"
    ]


def test_validated_options_are_frozen_and_lists_become_tuples():
    stdout = options(STDOUT, tags=["siem", "soc"])
    assert isinstance(stdout, StdoutOptions)
    assert stdout.tags == ("siem", "soc")
    with pytest.raises(dataclasses.FrozenInstanceError):
        stdout.tags = ()  # type: ignore[misc]
    assert STDOUT.shown(stdout)["tags"] == ["siem", "soc"], "podship check writes a YAML list"


def test_secrets_never_appear_in_the_repr_of_an_options_object():
    pod = options(POD, api_key="pod-key-1234", **POD_REQUIRED)
    forward = options(FORWARD, shared_key="shared-5678", username="u", password="pw-9012")
    relay = options(FORWARD_INPUT, shared_key="shared-5678", username="u", password="pw-9012")
    for value in (pod, forward, relay):
        shown = f"{value!r} {value}"
        assert "Secret('***')" in shown
        assert not [secret for secret in ("pod-key", "shared-5678", "pw-9012") if secret in shown]
    assert isinstance(pod.api_key, Secret) and pod.api_key.reveal() == "pod-key-1234"


def test_check_returns_the_options_completed_and_leaves_the_validated_ones_alone(tmp_path):
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    given = options(POD, type="sendmail", api_key_file=str(key_file), **POD_REQUIRED)
    checked = check(given, "p.yaml")
    assert (checked.type, checked.alias) == ("maillog", "acme-maillog")
    assert checked.api_key == Secret("from-file")
    assert (given.type, given.alias, given.api_key) == ("sendmail", "", None)


def test_a_pod_input_without_a_key_is_refused_by_its_check():
    with pytest.raises(ConfigError, match="option 'api_key': is required"):
        check(options(POD, **POD_REQUIRED), "p.yaml")


def test_the_pod_options_map_onto_the_cores_dataclasses_with_their_defaults():
    """The table's defaults are the core's: mapping them back gives the core's own."""
    pod = options(POD, **POD_REQUIRED)
    assert pod.timing() == Timing()
    assert pod.settings() == Settings()
    assert pod.context("host")["original"] == "compact"


def test_a_descriptor_refuses_the_options_of_another_plugin():
    stdout, syslog = PLUGINS["outputs"]["stdout"], PLUGINS["outputs"]["syslog"]
    with pytest.raises(TypeError, match="syslog: expected SyslogOptions, got StdoutOptions"):
        syslog.checked(options(stdout.options), "p.yaml")
