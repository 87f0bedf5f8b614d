"""The deployment files: Kubernetes manifests valid against the Kubernetes 1.37 schemas
(offline, kubernetes-validate), and the docker-compose file checked for what a working
two-process setup needs (docker compose itself is not installed here)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml

from riskcast.settings import ENV_PREFIX, Settings, load_settings

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "kubernetes"
SETTINGS = {f.name for f in msgspec.structs.fields(Settings)}


def manifests() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def by_kind(kind: str) -> list[dict[str, Any]]:
    return [d for d in manifests() if d["kind"] == kind]


def check_env(env: dict[str, str]) -> None:
    """Every variable names a riskcast setting, and together they load."""
    for name in env:
        assert name.startswith(ENV_PREFIX), name
        assert name.removeprefix(ENV_PREFIX).lower() in SETTINGS, f"no setting for {name}"
    load_settings(environ={k: str(v) for k, v in env.items()})


@pytest.mark.parametrize("doc", manifests(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
def test_manifest_is_valid_kubernetes(doc: dict[str, Any]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_kustomization_lists_every_manifest() -> None:
    listed = yaml.safe_load((K8S / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml")
                                    if p.name != "kustomization.yaml")


def test_deployment_probes_resources_and_settings() -> None:
    [deployment] = by_kind("Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] >= 2
    pod = spec["template"]
    assert spec["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    configmaps = {d["metadata"]["name"]: d["data"] for d in by_kind("ConfigMap")}
    secrets = {d["metadata"]["name"]: d["stringData"] for d in by_kind("Secret")}
    containers = pod["spec"]["containers"] + pod["spec"].get("initContainers", [])
    for container in containers:
        resources = container["resources"]
        assert set(resources["requests"]) == {"cpu", "memory"} == set(resources["limits"])
        env: dict[str, str] = {}
        for source in container["envFrom"]:
            if "configMapRef" in source:
                env.update(configmaps[source["configMapRef"]["name"]])
            else:
                env.update(secrets[source["secretRef"]["name"]])
        check_env(env)
        assert env["RISKCAST_STORAGE"].startswith("postgresql://")
        assert env["RISKCAST_BUS"].startswith(("redis://", "nats://"))
    [main] = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in main["ports"]}
    assert main["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}
    assert ports["http"] == int(configmaps["riskcast"]["RISKCAST_PORT"])
    # A drain needs time: the grace period covers serve's 30 s graceful shutdown.
    assert pod["spec"]["terminationGracePeriodSeconds"] > 30


def test_service_reaches_the_pods() -> None:
    [service] = by_kind("Service")
    [deployment] = by_kind("Deployment")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    names = {p["name"] for c in deployment["spec"]["template"]["spec"]["containers"]
             for p in c["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= names


def _interpolate(text: str) -> str:
    """Compose's ``${VAR:?message}`` / ``${VAR}`` with test values."""
    return re.sub(r"\$\{([A-Z_]+)[^}]*\}", lambda m: f"test-{m.group(1).lower()}-value", text)


def test_compose_runs_two_riskcast_processes_on_postgres_and_redis() -> None:
    compose = yaml.safe_load(_interpolate((DEPLOY / "docker-compose.yml").read_text()))
    services = compose["services"]
    riskcast = {n: s for n, s in services.items() if n.startswith("riskcast")}
    assert len(riskcast) == 2 and {"postgres", "redis"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert service["healthcheck"]["test"], name
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in compose["volumes"], (name, volume)
    published = [p.split(":")[0] for s in services.values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))
    for name, service in riskcast.items():
        build = service["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file(), name
        env = service["environment"]
        check_env(env)
        assert "@postgres:5432/" in env["RISKCAST_STORAGE"]
        assert env["RISKCAST_BUS"].startswith("redis://redis:")
        assert env["RISKCAST_AUTH"] == "true" and env["RISKCAST_ADMIN_KEY"]
        assert service["depends_on"] == {"postgres": {"condition": "service_healthy"},
                                         "redis": {"condition": "service_healthy"}}
        assert "/health/ready" in " ".join(service["healthcheck"]["test"])
        assert all(p.endswith(":8000") for p in service["ports"])
    assert "--appendonly" in services["redis"]["command"]  # the bus's seqs survive restarts


def test_dockerfile_installs_the_scale_out_extras_and_serves() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert '".[postgres,redis,nats]"' in text
    assert 'CMD ["riskcast", "serve"]' in text
    assert "HEALTHCHECK" in text and "/health/live" in text
    assert re.search(r"^USER riskcast$", text, re.M)  # not root
