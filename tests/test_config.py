"""Configuration mistakes: one clear line naming the file, the plugin and the option; exit code 2."""

import os
import subprocess
import sys

import pytest

from podship.cli.main import main
from tests.helpers import write_pipeline

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
            connector(backfill="40d"),
            "plugin 'proofpoint_pod': option 'backfill': must be at most 30d, got 40d",
        ),
        (
            connector(backfill=7),
            "plugin 'proofpoint_pod': option 'backfill': 7 has no unit: add one (7s, 7m, 7h or 7d)",
        ),
        (
            connector(api_key="a-key-pasted-into-the-file"),
            "plugin 'proofpoint_pod': option 'api_key': a key written in the file is refused: "
            "write ${POD_API_KEY} or use api_key_file",
        ),
        (
            connector(tls_ca_file="no-such-ca.pem"),
            "plugin 'proofpoint_pod': option 'tls_ca_file': ",
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
            "plugin 'proofpoint_pod': option 'api_key_file': cannot read the key file /nonexistent/key: No such file or directory",
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
        *(
            (
                f"service: {{http_listen: '{listen}'}}\npipeline: {{}}\n",
                f"plugin 'service': option 'http_listen': expected HOST:PORT with a port from 0 to 65535 "
                f"(e.g. 127.0.0.1:2021), got '{listen}'",
            )
            for listen in ("abc", "127.0.0.1:", "127.0.0.1:70000", "[::1]:")
        ),
        (
            "service: {http_listen: '::1:2031'}\npipeline: {}\n",
            "plugin 'service': option 'http_listen': write an IPv6 address in brackets, e.g. [::1]:2021",
        ),
        (
            "service: {http_listen: '[nope]:2031'}\npipeline: {}\n",
            "plugin 'service': option 'http_listen': expected [IPv6 address]:PORT, got '[nope]:2031'",
        ),
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
    assert "backfill: 7d" in out, "durations and sizes as a pipeline file writes them"
    assert "dead_letter_max_bytes: 64MiB" in out and "checkpoint_interval: 1s" in out
    assert "is valid" in err
    # What check prints, check accepts (with the key from the environment again).
    echoed = tmp_path / "echoed.yaml"
    echoed.write_text(
        out.replace("api_key: '***'", "api_key: ${POD_API_KEY}", 1).replace("api_key: '***'", "api_key: null")
    )
    code, again, _ = check(echoed, capsys, monkeypatch)
    assert (code, again) == (0, out)


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


def test_an_empty_key_variable_is_named_as_empty(tmp_path, capsys, monkeypatch):
    path = write_pipeline(tmp_path / "p.yaml", [connector()])
    monkeypatch.setenv("POD_API_KEY", "")
    code = main(["check", "-c", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"{path}: plugin 'proofpoint_pod': option 'api_key': environment variable POD_API_KEY is empty" in err
    )


def test_relative_paths_are_taken_from_the_pipeline_files_folder(tmp_path, capsys, monkeypatch):
    folder = tmp_path / "etc"
    (folder / "rules").mkdir(parents=True)
    (folder / "rules" / "keep.yaml").write_text("rules: []\n")
    (folder / "key").write_text(KEY)
    path = write_pipeline(
        folder / "p.yaml",
        [connector(api_key=None, api_key_file="key")],
        service={"state_dir": "./state"},
        filters=[{"name": "log_filter", "rules_file": "rules/keep.yaml"}],
    )
    monkeypatch.chdir(tmp_path)
    code, out, err = check(path, capsys, monkeypatch)
    assert code == 0, err
    assert f"state_dir: {folder / 'state'}" in out
    assert f"rules_file: {folder / 'rules' / 'keep.yaml'}" in out
    assert f"api_key_file: {folder / 'key'}" in out


def test_check_refuses_a_state_dir_that_cannot_be_made(tmp_path, capsys, monkeypatch):
    (tmp_path / "a-file").write_text("")
    path = write_pipeline(tmp_path / "p.yaml", [connector()], service={"state_dir": "a-file/state"})
    code, _, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert err.count("\n") == 1
    assert (
        f"{path}: plugin 'service': option 'state_dir': cannot use {tmp_path / 'a-file' / 'state'} as "
        f"the state directory: {tmp_path / 'a-file'} is not a directory"
    ) in err


def test_check_refuses_a_relay_address_that_is_no_address_of_this_host(tmp_path, capsys, monkeypatch):
    """The forward input says where it listens (its descriptor's `listens`): check resolves it."""
    relay = {"name": "forward", "listen": "no-such-host.invalid", "port": 24224}
    path = write_pipeline(tmp_path / "p.yaml", [relay])
    code, _, err = check(path, capsys, monkeypatch)
    assert code == 2 and err.count("\n") == 1
    assert f"{path}: plugin 'forward': option 'listen': cannot listen on 'no-such-host.invalid'" in err


def test_check_refuses_a_tls_file_that_cannot_be_read(tmp_path, capsys, monkeypatch):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    ca.chmod(0)
    output = {"name": "syslog", "mode": "tls", "tls_ca_file": "ca.pem"}
    path = write_pipeline(tmp_path / "p.yaml", [connector()], outputs=[output])
    code, _, err = check(path, capsys, monkeypatch)
    if os.geteuid() == 0:  # root reads everything: then the missing file is what fails
        ca.unlink()
        code, _, err = check(path, capsys, monkeypatch)
    assert code == 2
    assert f"{path}: plugin 'syslog': option 'tls_ca_file': {ca}: " in err


def test_inputs_that_disagree_on_the_deprecated_original_event_are_one_line(tmp_path, capsys, monkeypatch):
    """The old input option becomes the syslog-index outputs' `original`: two values cannot both be."""
    path = write_pipeline(
        tmp_path / "p.yaml",
        [connector(original_event="raw"), connector(type="maillog", original_event="none")],
    )
    code, out, err = check(path, capsys, monkeypatch)
    assert code == 2 and out == ""
    (line,) = [line for line in err.splitlines() if "deprecated" not in line]
    assert "p.yaml: plugin 'proofpoint_pod': option 'original_event': inputs set different values" in line
    assert "Traceback" not in err
