"""The sampling job end to end with a real local Ray and a real MLflow sqlite store."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from kinlatent.exceptions import ConfigError
from kinlatent.hydra_app import compose_config
from kinlatent.model import load_model
from kinlatent.pipelines.sample import run_sample
from kinlatent.sampling.dataset import DatasetError, read_dataset, read_manifest

REPO = Path(__file__).resolve().parents[2]


def test_hundred_thousand_rows_validated_and_tracked(local_ray, shared_models, steady1, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    cfg = compose_config("sample", [
        "model=varma_strain_1", "sampler.n_samples=100000", "sampler.shard_size=10000", "progress=false",
        f"output.dir={tmp_path / 'ds'}", f"tracking.uri={uri}", "tracking.experiment=sample-test",
    ])
    result = run_sample(cfg)
    assert result.n_rows == 100_000
    frame = read_dataset(tmp_path / "ds")
    model = load_model(shared_models / "varma_strain_1.yml")
    km_names = list(model.km_parameter_names)
    assert len(frame) == 100_000 and list(frame.columns[:len(km_names)]) == km_names
    assert np.array_equal(np.sort(frame["row"].to_numpy()), np.arange(100_000))
    # recompute λmax for 100 random rows with the kinetic core (numpy eigenvalues of J_r)
    from kinlatent.stability import OracleStability

    oracle = OracleStability(model, steady1.concentrations, steady1.fluxes)
    rows = np.random.default_rng(0).choice(100_000, 100, replace=False)
    jac = oracle.reduced_jacobian(frame.loc[rows, km_names].to_numpy()).numpy()
    recomputed = np.linalg.eigvals(jac).real.max(axis=1)
    assert np.allclose(recomputed, frame.loc[rows, "lambda_max"].to_numpy(), rtol=1e-6, atol=1e-5)
    assert frame["valid"].mean() == pytest.approx(result.frac_valid)

    mlflow.set_tracking_uri(uri)
    runs = mlflow.search_runs(experiment_names=["sample-test"], output_format="list")
    assert len(runs) == 1
    run = runs[0]
    assert run.data.metrics["sample/n_rows"] == 100_000
    assert run.data.metrics["validate/frac_valid"] == pytest.approx(frame["valid"].mean())
    assert "validate/lambda_max_q50" in run.data.metrics and run.data.metrics["sample/models_per_s"] > 0
    assert run.data.params["sampler.n_samples"] == "100000"
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"manifest.json", "lambda_max_histogram.png"} <= artifacts
    inputs = run.inputs.dataset_inputs
    assert len(inputs) == 1 and str((tmp_path / "ds").resolve()) in inputs[0].dataset.source


def test_crashing_task_is_retried_without_lost_or_duplicated_rows(local_ray, sample_cfg, tmp_path):
    cfg = sample_cfg("fault.crash_once_shards=[1]", "tracking=none")
    result = run_sample(cfg)
    assert (tmp_path / "dataset" / ".faults" / "crashed-00001").exists()  # the crash happened
    frame = read_dataset(tmp_path / "dataset")
    assert result.n_rows == 600 and np.array_equal(np.sort(frame["row"].to_numpy()), np.arange(600))


def test_killed_driver_resumes_to_the_same_dataset(local_ray, shared_models, tmp_path):
    interrupted, reference = tmp_path / "interrupted", tmp_path / "reference"
    common = ["model=varma_strain_1", "sampler.n_samples=12000", "sampler.shard_size=500", "ray.num_cpus=1",
              "tracking=none", "progress=false"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    process = subprocess.Popen([sys.executable, str(REPO / "jobs" / "sample.py"), *common,
                                f"output.dir={interrupted}"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = interrupted / "shards"
    deadline = time.time() + 240
    while time.time() < deadline and len(list(shards.glob("shard-*.parquet"))) < 3:
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    # Ray's own processes may take a moment to notice the driver died: wait until no shard appears for 3 s
    done_before, stable_since = -1, time.time()
    while time.time() - stable_since < 3.0:
        count = len(list(shards.glob("shard-*.parquet")))
        if count != done_before:
            done_before, stable_since = count, time.time()
        time.sleep(0.2)
    assert 3 <= done_before < 24, "the driver finished before it could be interrupted"
    assert read_manifest(interrupted)["status"] == "running"
    with pytest.raises(DatasetError, match="incomplete"):
        read_dataset(interrupted)  # a partial dataset never looks complete

    resumed = run_sample(compose_config("sample", common + [f"output.dir={interrupted}"]))
    assert resumed.shards_skipped == done_before and resumed.shards_computed == 24 - done_before
    run_sample(compose_config("sample", common + [f"output.dir={reference}"]))
    pd.testing.assert_frame_equal(read_dataset(interrupted).sort_values("row", ignore_index=True),
                                  read_dataset(reference).sort_values("row", ignore_index=True))


@pytest.mark.parametrize("override, key", [
    ("sampler.n_samples=0", "sampler.n_samples"),
    ("sampler.n_samples=-5", "sampler.n_samples"),
    ("sampler.threshold=fast", "sampler.threshold"),
    ("ray.address=127.0.0.1:1", "ray.address"),
    ("model.path=/nonexistent/model.yml", "model.path"),
    ("sampler.saturation.high=2", "sampler.saturation"),
    ("sampler.saturation=abc", "sampler.saturation"),
])
def test_bad_config_fails_before_any_work(sample_cfg, tmp_path, override, key):
    import ray

    if override.startswith("ray.") and ray.is_initialized():
        ray.shutdown()  # the address check happens when joining
    with pytest.raises(ConfigError) as info:
        run_sample(sample_cfg(override))
    assert info.value.key == key
    assert not (tmp_path / "dataset").exists()


def test_unknown_model_name_is_a_clear_cli_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "kinlatent.cli", "sample", "model=varma_strain_9",
                             f"output.dir={tmp_path / 'x'}"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "varma_strain_9" in result.stderr and "varma_strain_1" in result.stderr  # lists the options
    assert not (tmp_path / "x").exists()


def test_cli_and_hydra_multirun(shared_models, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = tmp_path / "multi"
    command = [sys.executable, "-m", "kinlatent.cli", "sample", "-m", "sampler.seed=0,1", "+debug=tiny",
               "tracking=none", f"output.dir={out}/seed${{sampler.seed}}",
               f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = read_dataset(out / "seed0"), read_dataset(out / "seed1")
    assert len(first) == len(second) == 600
    assert not np.array_equal(first.iloc[:, 0].to_numpy(), second.iloc[:, 0].to_numpy())
    manifest = json.loads((out / "seed1" / "manifest.json").read_text())
    assert manifest["identity"]["seed"] == 1 and manifest["status"] == "complete"


def test_nonlinear_check_runs_in_the_shard_tasks(local_ray, sample_cfg, tmp_path):
    cfg = sample_cfg("tracking=none", "sampler.nonlinear.enabled=true", "sampler.nonlinear.rows_per_shard=1",
                     "sampler.n_samples=400", "sampler.shard_size=200")
    run_sample(cfg)
    frame = read_dataset(tmp_path / "dataset")
    checked = frame["nonlinear_ok"].notna()
    assert checked.sum() == 2                      # one valid row per shard
    assert frame.loc[checked, "valid"].all()
    assert frame.loc[checked, "nonlinear_ok"].isin([0.0, 1.0]).all()


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="no CUDA device on this machine")
def test_gpu_tasks_compute_on_cuda(local_ray, sample_cfg, tmp_path):
    run_sample(sample_cfg("tracking=none", "ray.num_gpus_per_task=0.5"))
    assert len(read_dataset(tmp_path / "dataset")) == 600


def test_bad_output_locations_and_sections(sample_cfg, tmp_path):
    target = tmp_path / "dataset"
    target.write_text("keep me")
    with pytest.raises(ConfigError, match="existing file"):
        run_sample(sample_cfg("tracking=none"))
    assert target.read_text() == "keep me"
    target.unlink()
    target.mkdir()
    (target / "manifest.json").write_text("[]")
    from kinlatent.sampling.dataset import DatasetError as _DatasetError

    with pytest.raises(_DatasetError, match="not a JSON object"):
        run_sample(sample_cfg("tracking=none"))
    for override, key in (("sampler.bounds=abc", "sampler.bounds"), ("sampler.fixed_km=abc", "sampler.fixed_km"),
                          ("fault.crash_once_shards=[abc]", "fault.crash_once_shards")):
        with pytest.raises(ConfigError) as info:
            run_sample(sample_cfg("tracking=none", override))
        assert info.value.key == key


def test_shard_failing_for_good_is_a_clear_error_and_resumable(local_ray, sample_cfg, tmp_path):
    from kinlatent.pipelines.sample import ShardFailedError

    with pytest.raises(ShardFailedError, match="rerun the same command to resume"):
        run_sample(sample_cfg("tracking=none", "fault.crash_once_shards=[1]", "ray.max_retries=0"))
    assert read_manifest(tmp_path / "dataset")["status"] == "running"
    result = run_sample(sample_cfg("tracking=none", "fault.crash_once_shards=[1]", "ray.max_retries=0"))
    frame = read_dataset(tmp_path / "dataset")
    assert result.n_rows == 600 and np.array_equal(np.sort(frame["row"].to_numpy()), np.arange(600))
