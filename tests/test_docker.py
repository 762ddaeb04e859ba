"""The container files: images, compose demos and the Kubernetes manifest, checked as files
(no Docker engine runs here, so nothing is built in CI; see the README)."""

from pathlib import Path

import pytest
import yaml

from podship.engine import config
from tests.test_shipped_configs import FLUENT_BIT, VECTOR, flatten

ROOT = Path(__file__).resolve().parent.parent
DOCKER = ROOT / "docker"


def instructions(path):
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        continued = raw.rstrip().endswith("\\")
        current += raw.rstrip().removesuffix("\\").strip() + " "
        if not continued:
            word, _, rest = current.strip().partition(" ")
            lines.append((word.upper(), rest))
            current = ""
    return lines


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.fluent-bit"])
def test_images_run_as_a_user_with_state_on_a_volume(name):
    steps = instructions(DOCKER / name)
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for word, rest in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(word == "VOLUME" and "/var/lib/podship" in rest for word, rest in steps)
    for word, rest in steps:
        if word == "COPY":
            for source in rest.split()[:-1]:
                assert (ROOT / source).exists(), source


def test_the_podship_image_checks_its_health_on_the_status_endpoint():
    steps = dict(instructions(DOCKER / "Dockerfile"))
    assert "http://127.0.0.1:2021/status" in steps["HEALTHCHECK"]
    document = yaml.safe_load((DOCKER / "podship.yaml").read_text())
    assert document["service"]["http_listen"].endswith(":2021")


@pytest.mark.parametrize("name", ["compose.fluent-bit.yaml", "compose.vector.yaml"])
def test_compose_demos_wire_simulator_podship_and_collector(name):
    compose = yaml.safe_load((DOCKER / name).read_text())
    services = compose["services"]
    podship = services["podship"]
    assert podship["network_mode"] == "service:simulator"
    collector = podship["environment"]["COLLECTOR_HOST"]
    assert collector in services
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (DOCKER / source).exists(), source
    parsed = config.load(str(DOCKER / "podship.yaml"), podship["environment"])
    assert parsed.inputs[0].values.url == "ws://127.0.0.1:8765/v1/stream"
    assert parsed.outputs[0].values.host == collector


def test_the_collectors_of_the_demos_use_documented_keys():
    fluent = yaml.safe_load((DOCKER / "fluent-bit-compose.yaml").read_text())
    for plugin in fluent["pipeline"]["inputs"] + fluent["pipeline"]["outputs"]:
        assert set(plugin) <= FLUENT_BIT[plugin["name"]]
    vector = yaml.safe_load((DOCKER / "vector-compose.yaml").read_text())
    for kind in ("sources", "sinks"):
        for component in vector[kind].values():
            assert flatten(component) <= VECTOR[component["type"]]
    assert vector["sources"]["podship"]["acknowledgements"]["enabled"] is True


def test_the_kubernetes_statefulset_owns_one_connector_group():
    documents = {doc["kind"]: doc for doc in yaml.safe_load_all((DOCKER / "k8s/podship.yaml").read_text())}
    assert set(documents) == {"Secret", "ConfigMap", "StatefulSet"}
    spec = documents["StatefulSet"]["spec"]
    assert spec["replicas"] == 1
    assert spec["volumeClaimTemplates"][0]["metadata"]["name"] == "state"
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    (container,) = pod["containers"]
    assert {"name": "state", "mountPath": "/var/lib/podship"} in container["volumeMounts"]
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/status", "port": "status"}
    key = next(env for env in container["env"] if env["name"] == "POD_API_KEY")
    assert key["valueFrom"]["secretKeyRef"]["name"] == documents["Secret"]["metadata"]["name"]
    assert pod["terminationGracePeriodSeconds"] > 10  # above the default grace_period


K8S_VERSION = "1.31"  # a version the clusters in use run; kubernetes-validate ships its schema


@pytest.mark.parametrize("name", ["podship.yaml", "podship-cronjob.yaml"])
def test_the_kubernetes_manifests_match_the_kubernetes_schema(name):
    import kubernetes_validate

    for document in yaml.safe_load_all((DOCKER / "k8s" / name).read_text()):
        kubernetes_validate.validate(document, K8S_VERSION, strict=True)


def test_the_validation_would_catch_a_mistake():
    import kubernetes_validate

    _, cronjob = yaml.safe_load_all((DOCKER / "k8s/podship-cronjob.yaml").read_text())
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = 7
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)
    cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    cronjob["spec"]["schedul"] = cronjob["spec"].pop("schedule")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(cronjob, K8S_VERSION, strict=True)


def test_the_cronjob_runs_once_never_twice_at_a_time_with_its_state_on_a_claim():
    claim, cronjob = yaml.safe_load_all((DOCKER / "k8s/podship-cronjob.yaml").read_text())
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["args"][:2] == ["run", "--once"]
    assert {"name": "state", "mountPath": "/var/lib/podship"} in container["volumeMounts"]
    (volume,) = pod["volumes"]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
