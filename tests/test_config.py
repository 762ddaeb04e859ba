"""Configuration mistakes: one clear line naming the file, the plugin and the option; exit code 2."""

import subprocess
import sys

import pytest

from podship.cli import main
from tests.conftest import write_pipeline

KEY = "eyJhbGciOiJIUzUxMiJ9.secret-test-key-0123456789"


def connector(**overrides):
    entry = {
        "name": "proofpoint_pod",
        "tenant": "acme",
        "cluster_id": "acme_hosted",
        "api_key": "${POD_API_KEY}",
        "type": "message",
    }
    entry.update(overrides)
    return {key: value for key, value in entry.items() if value is not None}


def check(path, capsys, monkeypatch, env_key=True):
    if env_key:
        monkeypatch.setenv("POD_API_KEY", KEY)
    else:
        monkeypatch.delenv("POD_API_KEY", raising=False)
    code = main(["check", "-c", str(path)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            connector(bogus=1),
            "plugin 'proofpoint_pod': option 'bogus': unknown option; allowed: alias, tenant, cluster_id",
        ),
        (
            connector(backfill="lots"),
            "plugin 'proofpoint_pod': option 'backfill': expected a duration such as 30s, 5m, 6h or 7d, got 'lots'",
        ),
        (
            connector(backfill="31d"),
            "plugin 'proofpoint_pod': option 'backfill': must be at most 2.592e+06, got 2678400.0",
        ),
        (connector(cluster_id=None), "plugin 'proofpoint_pod': option 'cluster_id': is required"),
        (
            connector(type="sms"),
            "plugin 'proofpoint_pod': option 'type': expected one of message, maillog, audit, sendmail, got 'sms'",
        ),
        (
            connector(tls_verify="maybe"),
            "plugin 'proofpoint_pod': option 'tls_verify': expected true or false, got 'maybe'",
        ),
        (
            connector(max_frame_bytes="-5"),
            "plugin 'proofpoint_pod': option 'max_frame_bytes': expected a size such as 4096, 512KiB or 16MiB, got '-5'",
        ),
        (
            connector(url="ws://logstream.proofpoint.com/v1/stream"),
            "plugin 'proofpoint_pod': option 'url': must be wss://HOST/v1/stream (ws:// only for loopback addresses)",
        ),
        (connector(url="https://logstream.proofpoint.com/v1/stream"), "option 'url': must be wss://"),
        (
            connector(alias="acmé-message"),
            "plugin 'proofpoint_pod': option 'alias': connector name must be printable ASCII",
        ),
        (
            connector(api_key_file="/nonexistent/key"),
            "option 'api_key_file': set api_key or api_key_file, not both",
        ),
        (
            connector(api_key=None, api_key_file="/nonexistent/key"),
            "plugin 'proofpoint_pod': option 'api_key_file': cannot read the key file: No such file or directory",
        ),
        (connector(api_key=None), "plugin 'proofpoint_pod': option 'api_key': is required (or api_key_file)"),
        ({"name": "kafka"}, "plugin 'kafka': unknown plugin 'kafka' in inputs; available: proofpoint_pod"),
    ],
)
def test_each_mistake_names_file_plugin_and_option(tmp_path, capsys, monkeypatch, entry, message):
    path = write_pipeline(tmp_path / "podship.yaml", [entry])
    code, out, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1, err
    assert err.startswith(f"podship: configuration error: {path}: ")
    assert message in err
    assert KEY not in err


def test_a_missing_environment_variable_is_named(tmp_path, capsys, monkeypatch):
    path = write_pipeline(tmp_path / "p.yaml", [connector()])
    code, _, err = check(path, capsys, monkeypatch, env_key=False)
    assert code == 2
    assert (
        f"{path}: plugin 'proofpoint_pod': option 'api_key': environment variable POD_API_KEY is not set"
        in err
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "pipeline:\n  inputs: [\n",
            "invalid YAML: line 3, column 1: expected the node content, but found '<stream end>'",
        ),
        ("- just\n- a list\n", "expected a mapping with 'service' and 'pipeline'"),
        ("service: {}\n", "'pipeline' is required"),
        (
            "pipeline: {inputs: [], outputs: []}\n",
            "plugin 'pipeline': the pipeline needs at least one input and one output",
        ),
        ("pipline: {}\n", "unknown section 'pipline'; allowed: service, pipeline"),
        (
            "service: {batch_size: many}\npipeline: {}\n",
            "plugin 'service': option 'batch_size': expected a whole number",
        ),
        (
            "service: {log_level: loud}\npipeline: {}\n",
            "plugin 'service': option 'log_level': expected one of debug, info, warning, error",
        ),
        (
            "pipeline: {inputs: {name: proofpoint_pod}}\n",
            "plugin 'pipeline': 'inputs' must be a list of plugins",
        ),
        ("pipeline: {inputs: [proofpoint_pod]}\n", "plugin 'inputs': entry 1 must be a mapping with 'name'"),
    ],
)
def test_file_level_mistakes(tmp_path, capsys, monkeypatch, text, message):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    code, _, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert err.count("\n") == 1
    assert f"{path}: {message}" in err


def test_a_missing_file_is_named(tmp_path, capsys, monkeypatch):
    code, _, err = check(tmp_path / "absent.yaml", capsys, monkeypatch)
    assert code == 2
    assert f"{tmp_path / 'absent.yaml'}: cannot read the file: No such file or directory" in err


def test_connector_names_must_be_unique(tmp_path, capsys, monkeypatch):
    path = write_pipeline(tmp_path / "p.yaml", [connector(), connector()])
    code, _, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert "option 'alias': connector name 'acme-message' is used by 2 inputs" in err


def test_check_prints_the_effective_config_with_secrets_masked(tmp_path, capsys, monkeypatch):
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    path = write_pipeline(
        tmp_path / "p.yaml",
        [connector(), connector(type="maillog", api_key=None, api_key_file=str(key_file))],
    )
    code, out, err = check(path, capsys, monkeypatch)
    assert code == 0
    assert KEY not in out + err
    assert out.count("api_key: '***'") == 2
    assert "alias: acme-maillog" in out
    assert "backfill: 604800.0" in out
    assert "is valid" in err


def test_the_console_script_exits_2_on_a_config_error(tmp_path):
    path = write_pipeline(tmp_path / "p.yaml", [connector(bogus=True)])
    result = subprocess.run(
        [sys.executable, "-m", "podship", "check", "-c", str(path)],
        capture_output=True,
        text=True,
        env={"POD_API_KEY": KEY, "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert result.returncode == 2
    assert "option 'bogus': unknown option" in result.stderr


def test_one_key_cannot_serve_two_connectors_of_one_type_but_may_serve_two_types(
    tmp_path, capsys, monkeypatch
):
    path = write_pipeline(tmp_path / "p.yaml", [connector(alias="acme-a"), connector(alias="acme-b")])
    code, _, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert "option 'api_key': connectors 'acme-a' and 'acme-b' use the same API key for type 'message'" in err
    assert KEY not in err
    path = write_pipeline(tmp_path / "q.yaml", [connector(), connector(type="maillog")])
    assert check(path, capsys, monkeypatch)[0] == 0
