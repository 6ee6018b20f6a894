"""`ray job submit` end to end against a real Ray head started with `ray start --head`.

The head runs on loopback only (dashboard and job server included), on ports and a temp dir of its own, with
token authentication as on a real cluster. The sampling job is submitted with its working dir; the published
models, the storage root and the MLflow store reach it as absolute paths through the runtime_env (the working
dir is copied, so ``../shared/models`` does not exist beside the copy). Teardown stops only the processes of
this head (``ray stop`` would stop every Ray on the machine) and checks that none is left.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import mlflow
import numpy as np
import pytest

from kinlatent.sampling.dataset import read_dataset, read_manifest

psutil = pytest.importorskip("psutil", reason="psutil (dev extras) checks that no Ray process is left")

REPO = Path(__file__).resolve().parents[2]
RAY = Path(sys.executable).with_name("ray")
HEAD_PORTS = ("port", "dashboard-port", "ray-client-server-port", "dashboard-agent-listen-port",
              "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port", "node-manager-port",
              "object-manager-port")
HEAD_START_TIMEOUT_S = 90
JOB_TIMEOUT_S = 240
ENV_REMOVED = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS", "KINLATENT_MODELS_DIR", "KINLATENT_STORAGE",
               "MLFLOW_TRACKING_URI")

pytestmark = pytest.mark.skipif(not RAY.is_file(), reason=f"the ray CLI is not installed beside {sys.executable}")


@dataclass
class RayHead:
    process: subprocess.Popen
    address: str           # the job server (dashboard) URL
    temp_dir: Path
    env: dict[str, str]    # what a client needs: auth mode and token

    def cli(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(RAY), *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              cwd=REPO)

    def job(self, command: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return self.cli("job", command, "--address", self.address, *args, timeout=timeout)

    def api(self, path: str) -> dict:
        """GET a job server endpoint (``/api/version``, ``/api/jobs/<id>``) with the cluster's token."""
        request = urllib.request.Request(f"{self.address}{path}",
                                         headers={"Authorization": f"Bearer {self.env['RAY_AUTH_TOKEN']}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def status(self, submission_id: str) -> str:
        return str(self.api(f"/api/jobs/{submission_id}")["status"])


def _gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _short_temp_dir(factory: pytest.TempPathFactory, stack: ExitStack) -> Path:
    """Ray's unix sockets live under the temp dir: their paths must stay under ~107 bytes."""
    candidate = factory.mktemp("rayhead")
    if len(str(candidate)) <= 48:
        return candidate
    short = Path(tempfile.mkdtemp(prefix="klray-"))
    stack.callback(shutil.rmtree, short, ignore_errors=True)
    return short


def _wait_for_job_server(head: RayHead) -> None:
    deadline = time.time() + HEAD_START_TIMEOUT_S
    while time.time() < deadline:
        if head.process.poll() is not None:
            raise AssertionError(f"ray start exited with {head.process.returncode}: "
                                 f"{(head.temp_dir / 'ray-start.log').read_text()[-3000:]}")
        try:
            if head.api("/api/version").get("ray_version"):
                return
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(1.0)
    raise AssertionError(f"the Ray job server did not answer within {HEAD_START_TIMEOUT_S} s: "
                         f"{(head.temp_dir / 'ray-start.log').read_text()[-3000:]}")


def _processes_of(head: RayHead) -> list[psutil.Process]:
    """The head's process tree, plus anything whose command line names its temp dir (a detached watcher)."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(head.process.pid)
        found[root.pid] = root
        found.update({child.pid: child for child in root.children(recursive=True)})
    except psutil.NoSuchProcess:
        pass
    temp_dir = str(head.temp_dir)
    for process in psutil.process_iter(["cmdline"]):
        try:
            arguments = process.info["cmdline"] or ()
            if any(arg.endswith(temp_dir) or f"{temp_dir}/" in arg for arg in arguments):
                found[process.pid] = process
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    found.pop(os.getpid(), None)
    return list(found.values())


def _running(processes: list[psutil.Process]) -> list[str]:
    described = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                described.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
        except psutil.NoSuchProcess:
            continue
    return described


def _stop(head: RayHead) -> list[str]:
    """Stop this head's processes only (SIGTERM, then SIGKILL); return those that had to be killed."""
    processes = _processes_of(head)
    if head.process.poll() is None:
        head.process.send_signal(signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=30)
    for process in alive:
        try:
            process.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(alive, timeout=10)
    killed = []
    for process in alive:
        try:
            killed.append(f"{process.pid} {' '.join(process.cmdline())[:120]}")
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    head.process.wait(timeout=10)
    return killed


@pytest.fixture(scope="module")
def ray_head(shared_models, tmp_path_factory) -> Iterator[RayHead]:
    """A Ray head on 127.0.0.1 with the dashboard/job server, 2 CPUs, token auth, non-default ports."""
    with ExitStack() as stack:
        temp_dir = _short_temp_dir(tmp_path_factory, stack)
        ports = dict(zip(HEAD_PORTS, _free_ports(len(HEAD_PORTS))))
        env = {key: value for key, value in os.environ.items() if key not in ENV_REMOVED}
        env.update(PATH=f"{RAY.parent}{os.pathsep}{env.get('PATH', '')}",  # the jobs' `python` is this venv's
                   RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32), RAY_USAGE_STATS_ENABLED="0")
        command = [str(RAY), "start", "--head", "--block", "--node-ip-address=127.0.0.1",
                   "--dashboard-host=127.0.0.1", "--include-dashboard=true", "--num-cpus=2", f"--num-gpus={_gpus()}",
                   f"--temp-dir={temp_dir}", "--object-store-memory=268435456", "--disable-usage-stats",
                   *(f"--{name}={port}" for name, port in ports.items())]
        log = stack.enter_context(open(temp_dir / "ray-start.log", "w"))
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=temp_dir)
        head = RayHead(process, f"http://127.0.0.1:{ports['dashboard-port']}", temp_dir, env)
        try:
            _wait_for_job_server(head)
            yield head
        finally:
            killed = _stop(head)
            leftovers = _running(_processes_of(head))
            assert not leftovers, f"Ray processes left running: {leftovers}"
            if killed:
                print(f"note: {len(killed)} Ray processes needed SIGKILL: {killed}", file=sys.stderr)


def _runtime_env(shared_models: Path, storage: Path, tracking_uri: str) -> str:
    return json.dumps({"env_vars": {"KINLATENT_MODELS_DIR": str(shared_models), "KINLATENT_STORAGE": str(storage),
                                    "MLFLOW_TRACKING_URI": tracking_uri}})


def test_submitted_sampling_job_writes_dataset_and_mlflow_run(ray_head, shared_models, tmp_path):
    storage = tmp_path / "storage"
    storage.mkdir()
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    # artifacts must not land in the job's temporary working dir: the experiment gets a location on storage
    mlflow.MlflowClient(uri).create_experiment("ray-job-test", artifact_location=str(storage / "mlartifacts"))
    submitted = ray_head.job(
        "submit", "--submission-id", "kl-sample-ok", "--working-dir", str(REPO),
        "--runtime-env-json", _runtime_env(shared_models, storage, uri), "--",
        "python", "jobs/sample.py", "ray=cluster", "+debug=tiny", "sampler.n_samples=2000",
        "sampler.shard_size=1000", "tracking.experiment=ray-job-test", timeout=JOB_TIMEOUT_S,
    )
    submitted_text = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, submitted_text[-5000:]
    assert ray_head.status("kl-sample-ok") == "SUCCEEDED"

    dataset = storage / "data" / "samples" / "varma_strain_1-n2000-seed0"
    assert sorted(p.name for p in (dataset / "shards").iterdir()) == ["shard-00000.parquet", "shard-00001.parquet"]
    manifest = read_manifest(dataset)
    assert manifest["status"] == "complete" and manifest["n_rows"] == 2000
    assert manifest["config"]["ray"]["address"] == "auto"
    assert Path(manifest["model_file"]).resolve() == (shared_models / "varma_strain_1.yml").resolve()
    frame = read_dataset(dataset)
    assert np.array_equal(np.sort(frame["row"].to_numpy()), np.arange(2000))
    assert (storage / "outputs" / "sample").is_dir()  # Hydra's run dir is under the storage root too

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["ray-job-test"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.info.status == "FINISHED"
    assert run.data.metrics["sample/n_rows"] == 2000
    assert run.data.params["output.dir"] == str(dataset)
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run.info.run_id)}
    assert {"manifest.json", "lambda_max_histogram.png"} <= artifacts
    assert (storage / "mlartifacts").is_dir()


def test_submitted_job_with_bad_config_fails_with_readable_logs(ray_head, shared_models, tmp_path):
    """A bad Hydra override: the job ends FAILED and its logs name the key in one line (no traceback)."""
    submission_id = f"kl-bad-{secrets.token_hex(4)}"
    storage = tmp_path / "storage"
    submitted = ray_head.job(
        "submit", "--submission-id", submission_id, "--working-dir", str(REPO),
        "--runtime-env-json", _runtime_env(shared_models, storage, f"sqlite:///{tmp_path / 'mlflow.db'}"), "--",
        "python", "jobs/sample.py", "ray=cluster", "+debug=tiny", "sampler.n_samples=-5", timeout=JOB_TIMEOUT_S,
    )
    assert submitted.returncode != 0
    assert ray_head.status(submission_id) == "FAILED"
    logs = ray_head.job("logs", submission_id)
    assert logs.returncode == 0, logs.stderr
    assert "kinlatent: error: sampler.n_samples: must be a positive integer, got -5" in logs.stdout
    assert "Traceback" not in logs.stdout  # one readable line, not a stack trace
    assert not (storage / "data").exists()


@pytest.mark.skipif(_gpus() == 0, reason="no CUDA device on this machine")
def test_submitted_job_runs_its_shards_on_the_gpu(ray_head, shared_models, tmp_path):
    storage = tmp_path / "storage"
    submitted = ray_head.job(
        "submit", "--submission-id", "kl-sample-gpu", "--working-dir", str(REPO),
        "--runtime-env-json", _runtime_env(shared_models, storage, f"sqlite:///{tmp_path / 'mlflow.db'}"), "--",
        "python", "jobs/sample.py", "ray=cluster", "+debug=tiny", "tracking=none", "ray.num_gpus_per_task=0.5",
        timeout=JOB_TIMEOUT_S,
    )
    assert submitted.returncode == 0, (submitted.stdout + submitted.stderr)[-5000:]
    assert ray_head.status("kl-sample-gpu") == "SUCCEEDED"
    assert len(read_dataset(storage / "data" / "samples" / "varma_strain_1-n600-seed0")) == 600
