"""The Kubernetes manifests of a bake with background jobs: a worker Deployment and a scheduler Deployment in every
overlay, valid against Kubernetes' schemas, running the image's own commands, in the overlay's environment.

The scheduler runs as one replica, replaced with Recreate (never two at once: every run would be enqueued twice);
a worker's grace period covers its jobs' GRACEFUL_SHUTDOWN_SECONDS and Sentry's flush.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest

from tests.support.baking import Baked
from tests.support.kustomize import Resource, containers, render

from .test_k8s import (
    ENVIRONMENTS,
    KUBERNETES_VERSION,
    SHUTDOWN_MARGIN_SECONDS,
    SLUG,
    VERSION,
    entrypoint_command,
    plain_env,
    sentry_flush_seconds,
)


@pytest.fixture(scope="module")
def project(bake: Callable[..., Baked], tmp_path_factory: pytest.TempPathFactory) -> Path:
    answers = {"project_name": "Acme Orders", "version": VERSION, "include_worker": "yes"}
    return bake(tmp_path_factory.mktemp("k8s-worker"), **answers).project


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def overlay(request: pytest.FixtureRequest, project: Path) -> tuple[str, list[Resource]]:
    return request.param, render(project / "deploy" / "k8s" / "overlays" / request.param)


def deployment(resources: list[Resource], component: str) -> Resource:
    [found] = [
        resource
        for resource in resources
        if resource["kind"] == "Deployment"
        and resource["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    return found


def test_every_resource_validates_and_the_worker_and_scheduler_are_there(overlay: tuple[str, list[Resource]]) -> None:
    _, resources = overlay
    for resource in resources:
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
    components = sorted(
        resource["metadata"]["labels"]["app.kubernetes.io/component"]
        for resource in resources
        if resource["kind"] == "Deployment"
    )
    assert components == ["scheduler", "web", "worker"]


def test_the_scheduler_is_one_replica_replaced_never_rolled(overlay: tuple[str, list[Resource]]) -> None:
    spec = deployment(overlay[1], "scheduler")["spec"]

    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize("component", ["worker", "scheduler"])
def test_workers_and_scheduler_run_as_the_overlays_environment_and_release(
    overlay: tuple[str, list[Resource]], component: str
) -> None:
    environment, resources = overlay
    [container] = containers(deployment(resources, component))

    assert plain_env(container)["ENVIRONMENT"] == environment
    assert plain_env(container)["SENTRY_RELEASE"] == f"{SLUG}@{VERSION}"
    secrets = {
        entry["name"] for entry in container["env"] if "valueFrom" in entry and "secretKeyRef" in entry["valueFrom"]
    }
    assert secrets == {"DATABASE_URL", "BROKER_URL", "SENTRY_DSN"}


@pytest.mark.parametrize("component", ["web", "migrate"])
def test_the_web_pods_and_the_migration_get_the_broker_url_that_staging_and_production_require(
    overlay: tuple[str, list[Resource]], component: str
) -> None:
    _, resources = overlay
    [owner] = [
        resource
        for resource in resources
        if resource["kind"] in {"Deployment", "Job"}
        and resource["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]
    [container] = containers(owner)

    assert "BROKER_URL" in {entry["name"] for entry in container["env"]}


def test_the_worker_runs_the_images_worker_command_within_its_grace_period(project: Path, tmp_path: Path) -> None:
    worker = deployment(render(project / "deploy" / "k8s" / "overlays" / "production"), "worker")
    [container] = containers(worker)

    command = entrypoint_command(project, container, tmp_path, "taskiq")

    assert command[:3] == ["taskiq", "worker", "app.worker.broker:broker"]
    wait = float(command[command.index("--wait-tasks-timeout") + 1])
    grace = worker["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert wait + sentry_flush_seconds(project) + SHUTDOWN_MARGIN_SECONDS <= grace


def test_the_scheduler_runs_the_images_scheduler_command(project: Path, tmp_path: Path) -> None:
    [container] = containers(deployment(render(project / "deploy" / "k8s" / "overlays" / "production"), "scheduler"))

    assert entrypoint_command(project, container, tmp_path, "taskiq")[:3] == [
        "taskiq",
        "scheduler",
        "app.worker.scheduler:scheduler",
    ]
