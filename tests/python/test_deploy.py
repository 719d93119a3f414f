"""The deployment as a reviewer would check it: the manifests against Kubernetes' own schemas
(kubernetes-validate, strict: an unknown field is an error), the Dockerfile through hadolint, and
the properties this service relies on that no schema can know (two replicas that may not both be
disrupted, probes that mean different things, secrets only from Secrets)."""

import pathlib
import shutil
import subprocess

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
MANIFESTS = sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml"))
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def documents():
    docs = []
    for path in MANIFESTS:
        docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return docs


def only(kind):
    found = [d for d in documents() if d["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is not installed (tests/python/requirements.txt)"
    return path


def test_manifests_validate_strictly_against_kubernetes_schemas():
    assert MANIFESTS, "no manifests under deploy/kubernetes"
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "--quiet", *map(str, MANIFESTS)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_passes_hadolint():
    result = subprocess.run(
        [tool("hadolint"), "--no-color", str(DOCKERFILE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_the_production_binary_without_the_emulator():
    text = DOCKERFILE.read_text()
    assert "--no-default-features" in text, "the image must leave the demo feature out"


def test_two_replicas_and_a_disruption_budget_that_keeps_one():
    deployment = only("Deployment")
    assert deployment["spec"]["replicas"] >= 2
    pdb = only("PodDisruptionBudget")
    assert pdb["spec"]["selector"] == deployment["spec"]["selector"]
    assert pdb["spec"].get("minAvailable", 0) >= 1 or "maxUnavailable" in pdb["spec"]


def container():
    (c,) = only("Deployment")["spec"]["template"]["spec"]["containers"]
    return c


def test_readiness_and_liveness_probes_ask_different_questions():
    c = container()
    readiness, liveness = c["readinessProbe"], c["livenessProbe"]
    assert readiness["grpc"]["service"] != liveness["grpc"]["service"]
    # Liveness must be slower to fire than readiness: a database outage fails readiness only.
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > (
        readiness["periodSeconds"] * readiness["failureThreshold"]
    )


def test_resources_are_bounded():
    resources = container()["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys()
    assert "memory" in resources["limits"]


def test_secrets_come_from_secrets_never_from_literal_values():
    c = container()
    env = {e["name"]: e for e in c["env"]}
    assert "secretKeyRef" in env["DATABASE_URL"].get("valueFrom", {}), "DATABASE_URL from a Secret"
    for e in c["env"]:
        value = e.get("value", "")
        assert "postgres://" not in value and "BEGIN PRIVATE KEY" not in value, e["name"]
    volumes = {v["name"]: v for v in only("Deployment")["spec"]["template"]["spec"]["volumes"]}
    keys_mount = next(m for m in c["volumeMounts"] if "keys" in m["mountPath"])
    assert "secret" in volumes[keys_mount["name"]], "service-account keys from a Secret"
    assert keys_mount.get("readOnly") is True
