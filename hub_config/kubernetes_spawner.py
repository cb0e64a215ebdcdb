"""KubeSpawner for a cluster: each student's JupyterLab in its own pod with its own PVC.

Two callers: ``jupyterhub_config.py`` when ``LMS_SPAWNER=kubernetes``, and the
Zero to JupyterHub chart's ``hub.extraConfig`` (docker/kubernetes/values.yaml).
Under the chart, values the chart already set win: ``configure`` only fills in
what is missing, so ``values.yaml`` stays the one place an operator edits.
Nothing here talks to the cluster; KubeSpawner does that when it spawns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from hub_config.homes import parse_limit
from hub_config.settings import HubSettings
from lms_extension.config import LMSConfig

HOME = "/home/jovyan"
HOME_PVC = "lms-home-{username}"  # one claim per student, shared by their named servers
# Pod labels the NetworkPolicies select on: the chart's hub policy admits pods
# with network-access-hub; docker/kubernetes/lms-deployment.yaml admits pods
# with network-access-lms to the LMS service.
POD_LABELS = {
    "app.kubernetes.io/part-of": "jupyter-lms",
    "hub.jupyter.org/network-access-hub": "true",
    "lms.jupyter.org/network-access-lms": "true",
}
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


@dataclass(frozen=True)
class KubeSettings:
    """Cluster-only settings, from the k8s_* settings of the LMS configuration."""

    storage_class: str | None  # None: the cluster's default StorageClass
    storage_capacity: str
    mem_guarantee: str | None  # None: half the memory limit
    cpu_guarantee: float | None  # None: a quarter of the CPU limit

    @classmethod
    def from_config(cls, config: LMSConfig, disk_limit: str) -> "KubeSettings":
        """``disk_limit`` is the home claim's size unless k8s_storage_capacity names one
        (a claim always has a size, so "no limit" asks for 10Gi)."""
        limit = parse_limit(disk_limit)
        return cls(
            storage_class=config.k8s_storage_class or None,
            storage_capacity=config.k8s_storage_capacity or (quantity(limit) if limit else "10Gi"),
            mem_guarantee=config.k8s_mem_guarantee or None,
            cpu_guarantee=float(config.k8s_cpu_guarantee) if config.k8s_cpu_guarantee else None,
        )


def _bytes(spec: str) -> int:
    """'1G' -> 1073741824, with KubeSpawner's (binary) meaning of the suffixes."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", spec, re.IGNORECASE)
    if not m:
        raise ValueError(f"not a memory size: {spec!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).upper()])


def quantity(size: int) -> str:
    """Bytes as a Kubernetes quantity in the largest binary unit that divides them."""
    for suffix, factor in (("Ti", 2**40), ("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
        if size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def spawner_traits(settings: HubSettings, kube: KubeSettings) -> dict:
    """The KubeSpawner traits Jupyter LMS wants, as plain values."""
    mem_limit = _bytes(settings.mem_limit)
    # Memory is not compressible, so a student is guaranteed half of the limit;
    # CPU is, and students are mostly idle, so a quarter is enough to pack nodes.
    mem_guarantee = _bytes(kube.mem_guarantee) if kube.mem_guarantee else mem_limit // 2
    cpu_guarantee = kube.cpu_guarantee if kube.cpu_guarantee is not None else settings.cpu_limit / 4
    return {
        "image": settings.docker_image,
        "image_pull_policy": "IfNotPresent",
        "mem_limit": mem_limit,
        "mem_guarantee": mem_guarantee,
        "cpu_limit": settings.cpu_limit,
        "cpu_guarantee": cpu_guarantee,
        "uid": 1000,  # jovyan in docker/student.Dockerfile
        "fs_gid": 1000,  # so the home PVC is writable by jovyan
        "allow_privilege_escalation": False,
        # student code must not reach the Kubernetes API with a pod token
        "service_account": None,
        "automount_service_account_token": False,
        "storage_pvc_ensure": True,
        "pvc_name_template": HOME_PVC,
        "storage_capacity": kube.storage_capacity,
        "storage_class": kube.storage_class,
        "storage_access_modes": ["ReadWriteOnce"],
        "volumes": [{"name": "home", "persistentVolumeClaim": {"claimName": HOME_PVC}}],
        "volume_mounts": [{"name": "home", "mountPath": HOME}],
        "extra_labels": dict(POD_LABELS),
        "default_url": "/lab",  # lesson links open /user/<name>/lab/tree/<notebook>
        # an image pull on a fresh node can take minutes
        "start_timeout": 600,
        "http_timeout": 120,
        # One profile, applied without a form: lesson links start servers through
        # the REST API and must not stop at a spawn page. Operators who add
        # profiles and want students to choose also reset options_form.
        "profile_list": [
            {
                "display_name": "Standard",
                "slug": "standard",
                "default": True,
                "description": f"{settings.mem_limit} memory, {settings.cpu_limit:g} CPU",
            }
        ],
        "options_form": "",
    }


def configure(c, settings: HubSettings, kube: KubeSettings | None = None) -> None:
    """Make ``c`` spawn students with KubeSpawner, keeping what is already configured."""
    kube = kube or KubeSettings.from_config(settings.config, settings.disk_limit)
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    ks = c.KubeSpawner
    for name, value in spawner_traits(settings, kube).items():
        if name == "extra_labels":
            ks[name] = {**value, **ks.get(name, {})}  # chart labels kept, ours added
        elif name not in ks:
            ks[name] = value
