"""Render a kustomization the way `kubectl kustomize` does, for the few features the baked manifests use.

kustomize itself is a Go program that is not installed where the tests run. The baked project's overlays use
only `resources` (files and folders holding a kustomization.yaml), `namespace`, `images` and `patches` given by
`path` holding strategic-merge patches; anything else in a kustomization fails the render, so an overlay that
grows a feature this module does not know cannot pass unnoticed.

Strategic merge here follows Kubernetes for the fields the overlays patch: maps merge key by key, lists of
maps that all carry a `name` (containers, env, ports, volumes) merge item by item on it, other lists are replaced.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
# Kinds whose objects live in a namespace (the rest of Kubernetes' kinds are not used by the manifests).
NAMESPACED_KINDS = {"Deployment", "Service", "Job", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Secret"}


class KustomizeError(ValueError):
    """The kustomization uses something this renderer does not implement, or refers to nothing."""


def load_documents(path: Path) -> list[Resource]:
    return [document for document in yaml.safe_load_all(path.read_text(encoding="utf-8")) if document]


def render(folder: Path) -> list[Resource]:
    """The resources `kubectl kustomize <folder>` would print, in order."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise KustomizeError(f"{folder}: unsupported kustomization fields {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        target = (folder / entry).resolve()
        resources += render(target) if target.is_dir() else load_documents(target)
    for patch_entry in kustomization.get("patches", []):
        if set(patch_entry) != {"path"}:
            raise KustomizeError(f"{folder}: only `patches: - path: FILE` is supported, not {patch_entry}")
        for patch in load_documents(folder / patch_entry["path"]):
            apply_patch(resources, patch, folder / patch_entry["path"])
    for image in kustomization.get("images", []):
        set_image(resources, image)
    if "namespace" in kustomization:
        for resource in resources:
            if resource["kind"] in NAMESPACED_KINDS:
                resource["metadata"]["namespace"] = kustomization["namespace"]
    return resources


def identity(resource: Resource) -> tuple[str, str, str]:
    return (resource["apiVersion"], resource["kind"], resource["metadata"]["name"])


def apply_patch(resources: list[Resource], patch: Resource, source: Path) -> None:
    matches = [n for n, resource in enumerate(resources) if identity(resource) == identity(patch)]
    if len(matches) != 1:
        raise KustomizeError(f"{source}: the patch for {identity(patch)} matches {len(matches)} resources")
    resources[matches[0]] = strategic_merge(resources[matches[0]], patch)


def _merges_by_name(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def strategic_merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = strategic_merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _merges_by_name(base) and _merges_by_name(patch):
        merged_list = copy.deepcopy(base)
        positions = {item["name"]: n for n, item in enumerate(merged_list)}
        for item in patch:
            if item["name"] in positions:
                n = positions[item["name"]]
                merged_list[n] = strategic_merge(merged_list[n], item)
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def containers(resource: Resource) -> list[Resource]:
    """The containers of a Deployment's or a Job's pod template; none for other kinds."""
    if resource["kind"] not in {"Deployment", "Job"}:
        return []
    spec = resource["spec"]["template"]["spec"]
    return [*spec.get("initContainers", []), *spec["containers"]]


def split_image(image: str) -> tuple[str, str]:
    """`registry:5000/team/app:1.2` -> (`registry:5000/team/app`, `1.2`): the tag follows the last path part's colon."""
    head, slash, last = image.rpartition("/")
    name, _, tag = last.partition(":")
    return head + slash + name, tag


def set_image(resources: list[Resource], image: Resource) -> None:
    unknown = set(image) - {"name", "newName", "newTag"}
    if unknown:
        raise KustomizeError(f"images: unsupported fields {sorted(unknown)}")
    for resource in resources:
        for container in containers(resource):
            name, tag = split_image(container["image"])
            if name == image["name"]:
                new_tag = str(image.get("newTag", tag))
                container["image"] = image.get("newName", name) + (f":{new_tag}" if new_tag else "")
