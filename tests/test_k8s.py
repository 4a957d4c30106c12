"""The baked Kubernetes manifests: every overlay renders, validates against Kubernetes' schemas, and agrees with
the server it deploys (probes, shutdown timing, user, secrets, release).

kustomize is not installed here: tests/support/kustomize.py renders the overlays with the features they use.
`kubernetes-validate` checks each rendered resource against the offline JSON schemas of its Kubernetes version,
strictly (an unknown field fails).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tests.support.baking import Baked
from tests.support.kustomize import Resource, containers, render, split_image

ENVIRONMENTS = ("development", "staging", "production")
SLUG, VERSION = "acme-orders", "2.3.1"
KUBERNETES_VERSION = "1.30"
# Seconds the shutdown may still need once every budgeted step is done (closing sockets, the pool, exiting).
SHUTDOWN_MARGIN_SECONDS = 3
SECRET_SETTINGS = ("DATABASE_URL", "SENTRY_DSN")


@dataclass(frozen=True)
class Overlay:
    environment: str
    project: Path
    resources: list[Resource]

    def one(self, kind: str) -> Resource:
        found = [resource for resource in self.resources if resource["kind"] == kind]
        assert len(found) == 1, f"{self.environment}: {len(found)} {kind} resources"
        return found[0]

    @property
    def deployment(self) -> Resource:
        return self.one("Deployment")

    @property
    def web(self) -> Resource:
        (container,) = self.deployment["spec"]["template"]["spec"]["containers"]
        return container

    @property
    def job(self) -> Resource:
        return self.one("Job")


@pytest.fixture(scope="module")
def project(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake(tmp_path_factory.mktemp("k8s"), project_name="Acme Orders", version=VERSION).project


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def overlay(request: pytest.FixtureRequest, project: Path) -> Overlay:
    return Overlay(request.param, project, render(project / "deploy" / "k8s" / "overlays" / request.param))


def env_value(container: Resource, name: str) -> Any:
    found = [entry for entry in container.get("env", []) if entry["name"] == name]
    assert len(found) <= 1, f"{name} is set {len(found)} times"
    return found[0] if found else None


def plain_env(container: Resource) -> dict[str, str]:
    return {entry["name"]: entry["value"] for entry in container.get("env", []) if "value" in entry}


def entrypoint_command(project: Path, container: Resource, tmp_path: Path, program: str = "uvicorn") -> list[str]:
    """What the image's entry point runs for this container: docker-entrypoint.sh with its args and env, and a
    ``program`` (uvicorn, taskiq) on PATH that only echoes its arguments."""
    (tmp_path / program).write_text(f'#!/bin/sh\necho {program} "$@"\n', encoding="utf-8")
    (tmp_path / program).chmod(0o755)
    result = subprocess.run(
        [str(project / "docker-entrypoint.sh"), *container["args"]],
        env={"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}", **plain_env(container)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return shlex.split(result.stdout)


def option(command: list[str], name: str) -> str:
    assert name in command, f"{name} missing from {command}"
    return command[command.index(name) + 1]


def settings_default(project: Path, name: str) -> float:
    """A numeric setting's default, as app/core/config.py declares it."""
    source = (project / "app" / "core" / "config.py").read_text(encoding="utf-8")
    match = re.search(rf"^\s+{name}: .* = ([0-9_.]+)$", source, re.MULTILINE)
    assert match, f"{name} has no numeric default in config.py"
    return float(match.group(1))


def sentry_flush_seconds(project: Path) -> float:
    """How long the lifespan's last step waits for Sentry: flush_sentry(), whose timeout app/core/sentry.py declares."""
    assert "shutdown.callback(flush_sentry)" in (project / "app" / "main.py").read_text(), "the lifespan flushes Sentry"
    door = (project / "app" / "core" / "sentry.py").read_text()
    match = re.search(r"^FLUSH_TIMEOUT_SECONDS = ([0-9.]+)$", door, re.MULTILINE)
    assert match, "flush_sentry has no timeout"
    return float(match.group(1))


# Validity


def test_every_resource_validates_against_the_kubernetes_schemas(overlay: Overlay) -> None:
    kinds = sorted(resource["kind"] for resource in overlay.resources)

    for resource in overlay.resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    assert kinds == ["Deployment", "HorizontalPodAutoscaler", "Job", "PodDisruptionBudget", "Service"]


def test_every_resource_lives_in_the_environments_namespace(overlay: Overlay) -> None:
    namespaces = {resource["metadata"]["namespace"] for resource in overlay.resources}

    assert namespaces == {f"{SLUG}-{overlay.environment}"}


# Environment and release: what the events are filed under


def test_pods_run_as_the_overlays_environment(overlay: Overlay) -> None:
    assert plain_env(overlay.web)["ENVIRONMENT"] == overlay.environment
    assert plain_env(overlay.job.get("spec")["template"]["spec"]["containers"][0])["ENVIRONMENT"] == (
        overlay.environment
    )


def test_release_is_the_distribution_at_the_image_tag(overlay: Overlay) -> None:
    _, tag = split_image(overlay.web["image"])

    assert tag == VERSION
    assert plain_env(overlay.web)["SENTRY_RELEASE"] == f"{SLUG}@{VERSION}"
    assert {container["image"] for resource in overlay.resources for container in containers(resource)} == {
        overlay.web["image"]
    }


# Secrets


def test_dsn_and_database_url_come_from_a_secret(overlay: Overlay) -> None:
    for resource in overlay.resources:
        for container in containers(resource):
            for name in SECRET_SETTINGS:
                entry = env_value(container, name)
                if entry is None:
                    continue
                assert "value" not in entry, f"{resource['kind']}: {name} is written into the manifest"
                reference = entry["valueFrom"]["secretKeyRef"]
                assert (reference["name"], reference["key"]) == (SLUG, name)
            assert "envFrom" not in container
    assert env_value(overlay.web, "DATABASE_URL") is not None
    assert env_value(overlay.web, "SENTRY_DSN") is not None
    assert "ConfigMap" not in {resource["kind"] for resource in overlay.resources}
    assert "Secret" not in {resource["kind"] for resource in overlay.resources}


# Security


def test_every_pod_runs_as_the_images_unprivileged_user(overlay: Overlay) -> None:
    dockerfile = (overlay.project / "Dockerfile").read_text(encoding="utf-8")
    (user,) = re.findall(r"^USER (\d+):(\d+)$", dockerfile, re.MULTILINE)

    for resource in (overlay.deployment, overlay.job):
        pod = resource["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert (str(pod["securityContext"]["runAsUser"]), str(pod["securityContext"]["runAsGroup"])) == user
        assert pod["automountServiceAccountToken"] is False
        for container in pod["containers"]:
            assert container["securityContext"] == {
                "allowPrivilegeEscalation": False,
                "readOnlyRootFilesystem": True,
                "capabilities": {"drop": ["ALL"]},
            }


# Migrations: a Job, never the web pods


def test_migrations_run_as_a_job_and_never_on_pod_start(overlay: Overlay, tmp_path: Path) -> None:
    (migrate,) = overlay.job["spec"]["template"]["spec"]["containers"]
    command = entrypoint_command(overlay.project, overlay.web, tmp_path)

    assert migrate["args"] == ["migrate"]
    assert overlay.job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert overlay.web["args"] == ["serve"]
    assert command[:2] == ["uvicorn", "app.main:app"]
    assert "initContainers" not in overlay.deployment["spec"]["template"]["spec"]


# Probes


def test_probes_ask_liveness_and_readiness_of_the_service(overlay: Overlay) -> None:
    port = overlay.web["ports"][0]

    assert (port["name"], port["containerPort"]) == ("http", 8000)
    assert overlay.web["startupProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert overlay.web["livenessProbe"]["httpGet"] == {"path": "/health/live", "port": "http"}
    assert overlay.web["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "http"}


def test_readiness_waits_longer_than_the_services_database_check(overlay: Overlay) -> None:
    health_check = settings_default(overlay.project, "HEALTH_CHECK_TIMEOUT")

    assert overlay.web["readinessProbe"]["timeoutSeconds"] > health_check


def test_liveness_starts_only_after_the_startup_probe_allows_a_minute(overlay: Overlay) -> None:
    startup = overlay.web["startupProbe"]

    assert startup["periodSeconds"] * startup["failureThreshold"] >= 60


# Shutdown: preStop, the server's grace period and Sentry's flush fit in terminationGracePeriodSeconds


def test_shutdown_fits_in_the_termination_grace_period(overlay: Overlay, tmp_path: Path) -> None:
    pod = overlay.deployment["spec"]["template"]["spec"]
    pre_stop = overlay.web["lifecycle"]["preStop"]["exec"]["command"]
    command = entrypoint_command(overlay.project, overlay.web, tmp_path)
    graceful = float(option(command, "--timeout-graceful-shutdown"))
    drain_default = settings_default(overlay.project, "SHUTDOWN_DRAIN_SECONDS")
    drain = float(plain_env(overlay.web).get("SHUTDOWN_DRAIN_SECONDS", drain_default))
    needed = float(pre_stop[1]) + drain + graceful + sentry_flush_seconds(overlay.project)

    print(
        f"{overlay.environment}: preStop {pre_stop[1]} s + drain {drain} s + graceful {graceful} s + Sentry flush"
        f" = {needed} s of terminationGracePeriodSeconds {pod['terminationGracePeriodSeconds']} s"
    )
    assert pre_stop[0] == "sleep"
    assert graceful > 0
    assert needed + SHUTDOWN_MARGIN_SECONDS <= pod["terminationGracePeriodSeconds"]


def test_rolling_update_keeps_every_pod_serving_until_its_replacement_is_ready(overlay: Overlay) -> None:
    rolling = overlay.deployment["spec"]["strategy"]["rollingUpdate"]

    assert rolling["maxUnavailable"] == 0
    assert "replicas" not in overlay.deployment["spec"], "the autoscaler owns the replica count"


# Workers: one per CPU the container is given


def cpus_given() -> int:
    """This machine's CPUs for this process, capped by a cgroup v2 quota: what the entry point should count."""
    count = len(os.sched_getaffinity(0))
    cpu_max = Path("/sys/fs/cgroup/cpu.max")
    if cpu_max.exists():
        quota, period = cpu_max.read_text().split()
        if quota != "max":
            count = min(count, -(-int(quota) // int(period)))
    return count


def test_web_pods_run_one_worker_per_cpu_they_are_given(overlay: Overlay, tmp_path: Path) -> None:
    command = entrypoint_command(overlay.project, overlay.web, tmp_path)

    assert "WEB_CONCURRENCY" not in plain_env(overlay.web)
    assert option(command, "--workers") == str(cpus_given())


# Availability: disruption budget and autoscaler point at the web pods


def test_disruption_budget_and_autoscaler_cover_the_web_pods(overlay: Overlay) -> None:
    budget, autoscaler = overlay.one("PodDisruptionBudget"), overlay.one("HorizontalPodAutoscaler")
    pod_labels = overlay.deployment["spec"]["template"]["metadata"]["labels"]
    service = overlay.one("Service")

    assert budget["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert autoscaler["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": overlay.deployment["metadata"]["name"],
    }
    assert 1 <= autoscaler["spec"]["minReplicas"] <= autoscaler["spec"]["maxReplicas"]
    assert overlay.web["resources"]["requests"]["cpu"], "CPU utilisation needs a request to be measured against"
