"""The Kubernetes manifests in deploy/kubernetes: schema-valid for a pinned Kubernetes version
(kubernetes-validate ships its schemas, so this runs offline) and consistent with each other
and with the image (ports, labels, probes, security)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy" / "kubernetes"
BASE = DEPLOY / "base"
MONITORING_OVERLAY = DEPLOY / "overlays" / "monitoring"

# The Kubernetes version the manifests are validated against (strict schemas: unknown fields
# are errors). kubernetes-validate (pinned in constraints.txt) ships schemas up to its own
# version; raise this when the oldest cluster you deploy to moves on.
K8S_VERSION = "1.34.0"

# API groups whose schemas are CRDs, not core Kubernetes: checked structurally below.
CRD_GROUPS = ("monitoring.coreos.com/",)

POD_LABELS = {"app.kubernetes.io/name": "seqserve", "app.kubernetes.io/component": "server"}
GRPC_PORT = 50051
HTTP_PORT = 8000

Doc = dict[str, Any]


def load(path: Path) -> list[Doc]:
    with path.open() as f:
        return [doc for doc in yaml.safe_load_all(f) if doc]


def manifest_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomizations() -> list[Path]:
    return sorted(DEPLOY.rglob("kustomization.yaml"))


def is_crd(doc: Doc) -> bool:
    return str(doc["apiVersion"]).startswith(CRD_GROUPS)


def validate(doc: Doc) -> None:
    """Strict schema validation against K8S_VERSION; CRD kinds are skipped here."""
    if is_crd(doc):
        return
    used = kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    assert used == K8S_VERSION.rsplit(".", 1)[0], f"validated against {used}, not {K8S_VERSION}"


def _kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


def render(directory: Path) -> list[Doc]:
    """`kustomize build` when a kustomize (or kubectl) is installed; otherwise the resources
    the kustomizations list, read directly (no patches, labels or image overrides)."""
    command = _kustomize_command()
    if command is not None:
        done = subprocess.run(
            [*command, str(directory)], capture_output=True, text=True, timeout=120, check=False
        )
        assert done.returncode == 0, f"{' '.join(command)} {directory} failed:\n{done.stderr}"
        return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
    docs: list[Doc] = []
    (kustomization,) = load(directory / "kustomization.yaml")
    for entry in kustomization.get("resources", []) + kustomization.get("components", []):
        path = directory / entry
        docs += render(path) if path.is_dir() else load(path)
    return docs


def one(docs: list[Doc], kind: str, name: str) -> Doc:
    found = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def container(docs: list[Doc]) -> Doc:
    containers = one(docs, "Deployment", "seqserve")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


# ------------------------------------------------------------------------------ schemas


def test_pinned_kubernetes_version_ships_with_kubernetes_validate() -> None:
    schemas = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    assert (schemas / f"v{K8S_VERSION}-local-strict").is_dir(), (
        f"kubernetes-validate {kubernetes_validate.__version__} has no schemas for {K8S_VERSION}"
    )


@pytest.mark.parametrize("path", manifest_files(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_manifest_file_validates(path: Path) -> None:
    docs = load(path)
    assert docs, f"{path} holds no manifest"
    for doc in docs:
        validate(doc)


@pytest.mark.parametrize("directory", [DEPLOY, BASE, MONITORING_OVERLAY], ids=str)
def test_rendered_kustomization_validates(directory: Path) -> None:
    docs = render(directory)
    assert docs
    for doc in docs:
        validate(doc)


def test_validation_is_not_vacuous() -> None:
    (deployment,) = load(BASE / "deployment.yaml")
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {"grpc": {}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "three"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(DEPLOY)))
def test_kustomization_lists_existing_files_and_every_manifest(path: Path) -> None:
    (kustomization,) = load(path)
    listed = set()
    for entry in kustomization.get("resources", []) + kustomization.get("components", []):
        assert (path.parent / entry).exists(), f"{path}: {entry} does not exist"
        listed.add((path.parent / entry).resolve())
    for manifest in path.parent.glob("*.yaml"):
        if manifest.name != "kustomization.yaml":
            assert manifest.resolve() in listed, f"{manifest} is not listed in {path}"


# ------------------------------------------------------------------------------ the base


@pytest.fixture(scope="module")
def base() -> list[Doc]:
    return render(BASE)


def test_base_has_the_expected_objects(base: list[Doc]) -> None:
    kinds = sorted((d["kind"], d["metadata"]["name"]) for d in base)
    assert kinds == [
        ("Deployment", "seqserve"),
        ("HorizontalPodAutoscaler", "seqserve"),
        ("PodDisruptionBudget", "seqserve"),
        ("Service", "seqserve"),
        ("Service", "seqserve-headless"),
    ]


def test_deployment(base: list[Doc]) -> None:
    deployment = one(base, "Deployment", "seqserve")
    spec = deployment["spec"]
    assert spec["replicas"] == 3
    assert spec["selector"]["matchLabels"] == POD_LABELS
    template = spec["template"]
    assert POD_LABELS.items() <= template["metadata"]["labels"].items()
    pod = template["spec"]
    # Service links would set SEQSERVE_PORT=tcp://..., clashing with the server's settings.
    assert pod["enableServiceLinks"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0


def test_container_probes_resources_security(base: list[Doc]) -> None:
    c = container(base)
    assert {"name": "grpc", "containerPort": GRPC_PORT, "protocol": "TCP"} in c["ports"]
    assert {"name": "http", "containerPort": HTTP_PORT, "protocol": "TCP"} in c["ports"]
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["grpc"]["port"] == GRPC_PORT, f"{probe} is not a native gRPC probe"
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= c["resources"][kind].keys()
    security = c["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    env = {e["name"] for e in c.get("env", [])}
    assert all(name.startswith("SEQSERVE_") for name in env)
    # Models come from the image unless a volume is mounted over /models.
    assert "command" not in c and "args" not in c, "the image's entrypoint and arguments are used"


def test_services_select_the_pods_and_name_container_ports(base: list[Doc]) -> None:
    port_names = {p["name"] for p in container(base)["ports"]}
    for name in ("seqserve", "seqserve-headless"):
        service = one(base, "Service", name)
        assert service["spec"]["selector"] == POD_LABELS
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in port_names
        grpc = [p for p in service["spec"]["ports"] if p["name"] == "grpc"]
        assert [p["port"] for p in grpc] == [GRPC_PORT]
    http = [p for p in one(base, "Service", "seqserve")["spec"]["ports"] if p["name"] == "http"]
    assert [(p["port"], p["targetPort"]) for p in http] == [(HTTP_PORT, "http")]
    headless = one(base, "Service", "seqserve-headless")["spec"]
    assert headless["clusterIP"] == "None", "round_robin clients need every pod address in DNS"
    assert one(base, "Service", "seqserve")["spec"].get("clusterIP") != "None"


def test_autoscaler_and_disruption_budget(base: list[Doc]) -> None:
    deployment = one(base, "Deployment", "seqserve")
    hpa = one(base, "HorizontalPodAutoscaler", "seqserve")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": deployment["metadata"]["name"],
    }
    assert hpa["spec"]["minReplicas"] >= deployment["spec"]["replicas"]
    assert hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]
    pdb = one(base, "PodDisruptionBudget", "seqserve")
    assert pdb["spec"]["selector"]["matchLabels"] == POD_LABELS


# ------------------------------------------------------------------------------ monitoring


def test_monitoring_overlay_adds_a_servicemonitor_for_the_metrics_port() -> None:
    if _kustomize_command() is None:
        pytest.skip("no kustomize or kubectl to apply the component's patches")
    docs = render(MONITORING_OVERLAY)
    monitor = one(docs, "ServiceMonitor", "seqserve")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    selected = [
        d
        for d in docs
        if d["kind"] == "Service"
        and monitor["spec"]["selector"]["matchLabels"].items()
        <= d["metadata"].get("labels", {}).items()
    ]
    assert [s["metadata"]["name"] for s in selected] == ["seqserve"], "scrape one Service only"
    service_ports = {p["name"]: p for p in selected[0]["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports
        target = service_ports[endpoint["port"]]["targetPort"]
        assert target in {p["name"] for p in container(docs)["ports"]}
    env = {e["name"]: e["value"] for e in container(docs)["env"]}
    metrics_port = next(p for p in container(docs)["ports"] if p["name"] == "metrics")
    assert env["SEQSERVE_METRICS_PORT"] == str(metrics_port["containerPort"])
