"""The Kubernetes path without a cluster: KubeSpawner configuration, the Zero to
JupyterHub values and the LMS manifests.

KubeSpawner itself builds the pod and PVC manifests from our configuration; only
its cluster client set-up is replaced (autospec), because there is no cluster.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path
from unittest import mock

import jsonschema
import pytest
import yaml
from traitlets.config import Config, PyFileConfigLoader

kubespawner = pytest.importorskip("kubespawner", reason="the kubernetes extra is not installed")
import kubespawner.spawner as kubespawner_module  # noqa: E402
from kubernetes_asyncio.client import ApiClient  # noqa: E402

from hub_config import kubernetes_spawner, roles, settings  # noqa: E402
from hub_config.homes import parse_limit  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
K8S = REPO / "docker" / "kubernetes"
GiB = 2**30


@pytest.fixture
def hub_settings(monkeypatch, tmp_path):
    monkeypatch.setenv("LMS_SPAWNER", "kubernetes")
    monkeypatch.setenv("LMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LMS_MEM_LIMIT", "1G")
    monkeypatch.setenv("LMS_CPU_LIMIT", "1.0")
    for name in ("LMS_K8S_STORAGE_CLASS", "LMS_K8S_STORAGE_CAPACITY", "LMS_K8S_MEM_GUARANTEE",
                 "LMS_K8S_CPU_GUARANTEE", "LMS_DISK_LIMIT", "LMS_STUDENT_EGRESS"):
        monkeypatch.delenv(name, raising=False)
    return settings.load()


def configured(hub_settings) -> Config:
    c = Config()
    kubernetes_spawner.configure(c, hub_settings)
    return c


def spawner(config: Config):
    """A real KubeSpawner on our config: every trait goes through its validation."""
    with mock.patch.object(kubespawner_module, "load_config", autospec=True), \
            mock.patch.object(kubespawner_module, "shared_client", autospec=True):
        return kubespawner.KubeSpawner(config=config, _mock=True)


def as_dict(model) -> dict:
    async def serialize():
        async with ApiClient() as api:
            return api.sanitize_for_serialization(model)
    return asyncio.run(serialize())


def test_configure_sets_only_existing_kubespawner_traits(hub_settings):
    c = configured(hub_settings)
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    unknown = set(c.KubeSpawner) - set(kubespawner.KubeSpawner.class_trait_names(config=True))
    assert not unknown, f"not KubeSpawner traits: {unknown}"


def test_kubespawner_accepts_the_configuration(hub_settings):
    sp = spawner(configured(hub_settings))
    assert sp.image == "jupyter-lms/student:latest"
    assert (sp.mem_limit, sp.mem_guarantee) == (1 * GiB, GiB // 2)
    assert (sp.cpu_limit, sp.cpu_guarantee) == (1.0, 0.25)
    assert sp.storage_pvc_ensure and sp.pvc_name.startswith("lms-home-")
    assert sp.storage_class is None  # the cluster's default StorageClass
    assert sp.service_account is None and sp.automount_service_account_token is False
    assert sp.options_form == ""  # lesson links must not stop at a spawn form
    assert [p["slug"] for p in sp.profile_list] == ["standard"]


def test_storage_class_and_guarantees_are_configurable(hub_settings, monkeypatch):
    monkeypatch.setenv("LMS_K8S_STORAGE_CLASS", "fast-ssd")
    monkeypatch.setenv("LMS_K8S_STORAGE_CAPACITY", "5Gi")
    monkeypatch.setenv("LMS_K8S_MEM_GUARANTEE", "256M")
    monkeypatch.setenv("LMS_K8S_CPU_GUARANTEE", "0.1")
    sp = spawner(configured(settings.load()))  # settings are read once, at start
    pvc = as_dict(sp.get_pvc_manifest())
    assert pvc["spec"]["storageClassName"] == "fast-ssd"
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert (sp.mem_guarantee, sp.cpu_guarantee) == (256 * 2**20, 0.1)


@pytest.mark.parametrize("limit, claim", [(None, "2Gi"), ("512M", "512Mi"), ("5G", "5Gi"), ("none", "10Gi")])
def test_home_claim_size_is_the_disk_limit(hub_settings, monkeypatch, limit, claim):
    if limit:
        monkeypatch.setenv("LMS_DISK_LIMIT", limit)
    sp = spawner(configured(settings.load()))
    assert as_dict(sp.get_pvc_manifest())["spec"]["resources"]["requests"]["storage"] == claim


def test_pod_manifest_limits_home_and_privileges(hub_settings):
    sp = spawner(configured(hub_settings))
    pod = as_dict(asyncio.run(sp.get_pod_manifest()))
    container = pod["spec"]["containers"][0]
    assert container["resources"]["limits"] == {"cpu": 1.0, "memory": 1 * GiB}
    assert container["resources"]["requests"] == {"cpu": 0.25, "memory": GiB // 2}
    assert container["securityContext"]["runAsUser"] == 1000
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["spec"]["securityContext"]["fsGroup"] == 1000
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert "serviceAccountName" not in pod["spec"]
    claims = {v["name"]: v["persistentVolumeClaim"]["claimName"]
              for v in pod["spec"]["volumes"] if "persistentVolumeClaim" in v}
    assert claims == {"home": sp.pvc_name}
    assert {"name": "home", "mountPath": "/home/jovyan"} in container["volumeMounts"]
    assert kubernetes_spawner.POD_LABELS.items() <= pod["metadata"]["labels"].items()


def test_values_set_by_the_chart_win(hub_settings):
    c = Config()
    c.KubeSpawner.image = "registry.example.org/lms/student:1.2"
    c.KubeSpawner.extra_labels = {"hub.jupyter.org/network-access-hub": "true", "team": "a"}
    kubernetes_spawner.configure(c, hub_settings)
    assert c.KubeSpawner.image == "registry.example.org/lms/student:1.2"
    assert c.KubeSpawner.extra_labels["team"] == "a"
    assert kubernetes_spawner.POD_LABELS.items() <= c.KubeSpawner.extra_labels.items()


def test_hub_config_selects_kubespawner(hub_settings):
    config_file = REPO / "hub_config" / "jupyterhub_config.py"
    c = PyFileConfigLoader(config_file.name, path=str(config_file.parent)).load_config()
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.KubeSpawner.image == hub_settings.docker_image


# --- docker/kubernetes/values.yaml -------------------------------------------------

@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((K8S / "values.yaml").read_text())


@pytest.fixture(scope="module")
def manifests() -> list[dict]:
    return [d for d in yaml.safe_load_all((K8S / "lms-deployment.yaml").read_text()) if d]


def find(manifests, kind, name) -> dict:
    return next(m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name)


def test_values_use_only_chart_keys(values):
    schema = yaml.safe_load((K8S / "z2jh-values.schema.yaml").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(values)]
    assert not errors, "\n".join(errors)


def test_values_extra_config_runs_against_chart_config(values, hub_settings):
    # what the chart's jupyterhub_config.py sets before running hub.extraConfig
    c = Config()
    c.JupyterHub.spawner_class = "kubespawner.KubeSpawner"
    c.KubeSpawner.image = "jupyter-lms/student:latest"
    c.KubeSpawner.mem_limit = values["singleuser"]["memory"]["limit"]
    for name, code in sorted(values["hub"]["extraConfig"].items()):
        exec(compile(code, name, "exec"), {"c": c})
    assert c.KubeSpawner.mem_limit == "1G"  # the chart's value, untouched
    assert c.KubeSpawner.storage_pvc_ensure is True
    spawner(c)  # and KubeSpawner accepts the result


def test_values_agree_with_spawner_and_manifests(values, manifests, hub_settings):
    single, hub = values["singleuser"], values["hub"]
    assert f"{single['image']['name']}:{single['image']['tag']}" == hub_settings.docker_image
    assert single["storage"]["dynamic"]["pvcNameTemplate"] == kubernetes_spawner.HOME_PVC
    assert kubernetes_spawner.POD_LABELS.items() <= single["extraLabels"].items()
    mem, cpu = single["memory"], single["cpu"]
    assert kubernetes_spawner._bytes(mem["guarantee"]) <= kubernetes_spawner._bytes(mem["limit"])
    assert cpu["guarantee"] <= cpu["limit"]
    assert hub["db"]["type"] == "postgres" and "@" in hub["db"]["url"]
    assert ":" not in hub["db"]["url"].split("//", 1)[1].split("@")[0], "no password in the URL"

    # the LMS is an external service reached through the `lms` Service
    lms = hub["services"]["lms"]
    assert "command" not in lms
    service = find(manifests, "Service", "lms")
    assert lms["url"] == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    env = {e["name"]: e for e in find(manifests, "Deployment", "lms")["spec"]["template"]["spec"]
           ["containers"][0]["env"]}
    ref = env["JUPYTERHUB_API_TOKEN"]["valueFrom"]["secretKeyRef"]
    assert (ref["name"], ref["key"]) == (hub["existingSecret"], "hub.services.lms.apiToken")
    allowed = json.loads(env["JUPYTERHUB_OAUTH_CLIENT_ALLOWED_SCOPES"]["value"])
    assert allowed == lms["oauth_client_allowed_scopes"]


def test_values_home_size_is_the_default_disk_limit(values, hub_settings):
    assert values["singleuser"]["storage"]["capacity"] == kubernetes_spawner.quantity(
        parse_limit(hub_settings.disk_limit))


def chart_merge(base: dict, overlay: dict) -> dict:
    """What helm does with two -f files: maps merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = chart_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


def check_student_network_policy(values: dict, manifests: list[dict], *, internet: bool) -> None:
    """Student pods: in from the hub and the proxy only (the chart's own rule, nothing
    added), out to the hub (the chart's rule), the LMS service and cluster DNS; with
    internet egress also public addresses, never private ones or cloud metadata."""
    policy = values["singleuser"]["networkPolicy"]
    assert policy["enabled"] is True
    assert policy.get("ingress") == [] and policy.get("allowedIngressPorts") == []
    assert policy.get("interNamespaceAccessLabels") == "ignore"
    rules = policy.get("egressAllowRules", {})
    # every rule spelt out: the chart's defaults open the internet and private DNS ports
    assert set(rules) == set(SCHEMA_EGRESS_RULES), rules
    assert rules == {**{name: False for name in SCHEMA_EGRESS_RULES}, "dnsPortsKubeSystemNamespace": True,
                     "nonPrivateIPs": internet}, rules
    lms = find(manifests, "Deployment", "lms")["spec"]["template"]
    lms_port = lms["spec"]["containers"][0]["ports"][0]["containerPort"]
    [egress] = policy["egress"]
    assert egress["ports"] == [{"protocol": "TCP", "port": lms_port}]
    [to] = egress["to"]
    assert set(to) == {"podSelector"}, "pods of this namespace only"
    assert to["podSelector"]["matchLabels"].items() <= lms["metadata"]["labels"].items()
    assert to["podSelector"]["matchLabels"]["app.kubernetes.io/component"] == "lms-service"


SCHEMA_EGRESS_RULES = ("cloudMetadataServer", "dnsPortsCloudMetadataServer", "dnsPortsKubeSystemNamespace",
                       "dnsPortsPrivateIPs", "nonPrivateIPs", "privateIPs")


def test_student_network_policy_allows_only_hub_proxy_and_lms(values, manifests):
    check_student_network_policy(values, manifests, internet=False)


def test_student_internet_egress_opens_public_addresses_only(values, manifests):
    overlay = yaml.safe_load((K8S / "values-egress-internet.yaml").read_text())
    merged = chart_merge(values, overlay)
    check_student_network_policy(merged, manifests, internet=True)
    schema = yaml.safe_load((K8S / "z2jh-values.schema.yaml").read_text())
    errors = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(merged)]
    assert not errors, errors


def test_values_mirror_hub_config_roles_and_scopes(values):
    """The chart cannot load hub_config/jupyterhub_config.py, so values.yaml repeats
    its identity and RBAC pieces; they must not drift apart."""
    expected = Config()
    roles.configure(expected)
    hub = values["hub"]
    chart_roles = {name: {"name": name, **role} for name, role in hub["loadRoles"].items()}
    for role in expected.JupyterHub.load_roles:
        assert role.items() <= chart_roles[role["name"]].items(), role["name"]
    assert chart_roles.keys() == {r["name"] for r in expected.JupyterHub.load_roles}
    jupyterhub = hub["config"]["JupyterHub"]
    assert jupyterhub["custom_scopes"] == expected.JupyterHub.custom_scopes
    assert jupyterhub["load_groups"].keys() == expected.JupyterHub.load_groups.keys()
    assert hub["config"]["Spawner"]["server_token_scopes"] == expected.Spawner.server_token_scopes
    assert hub["services"]["lms"]["oauth_client_allowed_scopes"] == [roles.TEACH_SCOPE, roles.ADMIN_SCOPE]


# --- docker/kubernetes/lms-deployment.yaml -----------------------------------------

def test_manifests_are_valid_kubernetes_objects(manifests):
    """Each object deserializes into the Kubernetes client's model (required fields
    enforced) and serializes back unchanged (no unknown or misspelt fields)."""

    class Response:  # what ApiClient.deserialize reads
        def __init__(self, obj):
            self.data = json.dumps(obj)

    async def round_trip():
        async with ApiClient() as api:
            for obj in manifests:
                version = obj["apiVersion"].split("/")[-1]
                model = api.deserialize(Response(obj), version.capitalize() + obj["kind"])
                assert api.sanitize_for_serialization(model) == obj, obj["metadata"]["name"]

    assert {(m["kind"], m["metadata"]["name"]) for m in manifests} == {
        ("Deployment", "lms"), ("Service", "lms"), ("NetworkPolicy", "lms"),
        ("Deployment", "lms-worker"), ("HorizontalPodAutoscaler", "lms-worker"),
    }
    asyncio.run(round_trip())


def test_manifests_wire_together(manifests, values):
    lms, worker = find(manifests, "Deployment", "lms"), find(manifests, "Deployment", "lms-worker")
    for deployment in (lms, worker):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True
    assert lms["spec"]["replicas"] >= 2, "the LMS service runs as several replicas"
    pod_labels = lms["spec"]["template"]["metadata"]["labels"]
    assert pod_labels["hub.jupyter.org/network-access-hub"] == "true"
    assert find(manifests, "Service", "lms")["spec"]["selector"].items() <= pod_labels.items()
    policy = find(manifests, "NetworkPolicy", "lms")
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    allowed = policy["spec"]["ingress"][0]["from"][0]["podSelector"]["matchLabels"]
    for labels in (values["singleuser"]["extraLabels"], values["proxy"]["labels"], values["hub"]["labels"]):
        assert allowed.items() <= labels.items()
    assert find(manifests, "HorizontalPodAutoscaler", "lms-worker")["spec"]["scaleTargetRef"]["name"] == "lms-worker"
    assert worker["spec"]["template"]["spec"]["containers"][0]["command"] == ["lms", "worker"]
    assert lms["spec"]["template"]["spec"]["containers"][0]["command"] == ["lms", "service"]
