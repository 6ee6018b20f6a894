"""`kinlatent pipeline` end to end on the embedded default model: nested MLflow runs, summary, resume; and the
same tiny pipeline against a real `mlflow server` on 127.0.0.1, checked through its REST API and in Chromium."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import pytest

from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.pipeline import run_pipeline

TINY = ["sampler.n_samples=1000", "sampler.shard_size=500", "generator.generations=3", "generator.population=4",
        "generator.sets_per_member=20", "generator.latent_dim=8", "generator.widths=[16]", "generator.eval_sets=200",
        "generator.eval_every=1", "explore.n_models=20", "explore.prior_samples=200", "final.n=1000",
        "progress=false"]
STEP_RUNS = {"1-sample", "2-train", "3-explore", "4-generate"}


def tiny_pipeline(tmp_path: Path, uri: str, *extra: str):
    return run_pipeline(compose_config("pipeline", TINY + [f"output.dir={tmp_path / 'pipeline'}",
                                                           f"tracking.uri={uri}", *extra]))


def test_pipeline_runs_every_step_as_a_nested_run_and_resumes(local_ray, tmp_path, monkeypatch):
    monkeypatch.setenv("KINLATENT_MODELS_DIR", str(tmp_path / "no-models-here"))  # needs nothing from ../shared
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = tiny_pipeline(tmp_path, uri)
    steps = result.summary["steps"]
    assert steps["sample"]["n_rows"] == 1000 and 0.5 < steps["sample"]["frac_valid"] < 1.0
    assert steps["explore"]["n_found"] == 20 and steps["explore"]["hit_rate"] == 1.0
    assert steps["generate"]["n_rows"] == 1000
    assert "mlflow ui --backend-store-uri sqlite:///" in result.report and "| latent exploration |" in result.report
    assert (result.directory / "summary.md").read_text() == result.report
    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["kinlatent-pipeline"], output_format="list")
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == result.run_id]
    assert {r.info.run_name for r in children} == STEP_RUNS and len(runs) == 5
    assert {"explore/hit_rate", "generate/frac_valid", "time/sample_s"} <= set(mlflow.get_run(result.run_id).data.metrics)
    started = time.perf_counter()
    again = tiny_pipeline(tmp_path, uri)  # resume: every step reused
    assert all(again.summary["steps"][s].get("reused") for s in ("sample", "train", "explore", "generate"))
    assert again.summary["steps"]["explore"]["n_found"] == 20 and time.perf_counter() - started < 30


def test_bare_kinlatent_command_names_the_main_job():
    from kinlatent.cli import HYDRA_COMMANDS

    assert HYDRA_COMMANDS["pipeline"][1] == "kinlatent.pipelines.pipeline:run_pipeline"
    config = compose_config("pipeline")
    assert config.model.name == "ecoli_core"  # the embedded default, not ../shared


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture()
def mlflow_server(tmp_path):
    port = _free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    process = subprocess.Popen(
        [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--artifacts-destination", str(tmp_path / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
         "--workers", "1"], stdout=open(tmp_path / "server.log", "w"), stderr=subprocess.STDOUT,
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        try:
            _get(f"{url}/api/2.0/mlflow/experiments/search?max_results=1")
            break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"mlflow server did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.5)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def test_pipeline_against_a_real_mlflow_server_rest_api_and_browser(local_ray, tmp_path, mlflow_server):
    result = tiny_pipeline(tmp_path, mlflow_server, "generator.registered_name=server-test-nes")
    experiment = _get(f"{mlflow_server}/api/2.0/mlflow/experiments/get-by-name?experiment_name=kinlatent-pipeline")
    experiment_id = experiment["experiment"]["experiment_id"]
    request = urllib.request.Request(f"{mlflow_server}/api/2.0/mlflow/runs/search", method="POST",
                                     data=json.dumps({"experiment_ids": [experiment_id]}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        runs = json.loads(response.read())["runs"]
    by_name = {r["info"]["run_name"]: r for r in runs}
    assert set(by_name) == STEP_RUNS | {"pipeline-ecoli_core"}
    metrics = {m["key"] for m in by_name["3-explore"]["data"]["metrics"]}
    assert {"explore/hit_rate", "explore/evaluations", "explore/diversity"} <= metrics
    train_metrics = {m["key"] for m in by_name["2-train"]["data"]["metrics"]}
    assert {"train/reward", "eval/frac_valid"} <= train_metrics
    model = _get(f"{mlflow_server}/api/2.0/mlflow/registered-models/get?name=server-test-nes")
    assert model["registered_model"]["name"] == "server-test-nes"
    for run_name, pngs in (("2-train", {"learning_curve.png", "ln_km_distributions.png"}),
                           ("3-explore", {"latent_map.png", "property_distribution.png", "interpolation.png"}),
                           ("1-sample", {"lambda_max_histogram.png"})):
        run_id = by_name[run_name]["info"]["run_id"]
        listing = _get(f"{mlflow_server}/api/2.0/mlflow/artifacts/list?run_id={run_id}")
        assert pngs <= {f["path"] for f in listing.get("files", [])}, run_name
        query = urllib.parse.urlencode({"run_id": run_id, "path": sorted(pngs)[0]})
        with urllib.request.urlopen(f"{mlflow_server}/get-artifact?{query}", timeout=10) as response:
            assert response.read(8) == b"\x89PNG\r\n\x1a\n"
    assert result.run_id == by_name["pipeline-ecoli_core"]["info"]["run_id"]

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("Debian chromium is not installed (.ci/run installs it: apt-get install chromium)")
    page = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           "--virtual-time-budget=30000", "--dump-dom",
                           f"{mlflow_server}/#/experiments/{experiment_id}/runs"],
                          capture_output=True, text=True, timeout=120)
    assert "pipeline-ecoli_core" in page.stdout, page.stdout[-2000:]
