"""Ray Tune sweeps end to end on varma_strain_1: a real local Ray, a real MLflow sqlite store, tiny budgets.

- an 8-trial NES sweep with ASHA: 1 parent + 8 nested child runs, the best trial's overrides reproduce its metric
  through kinlatent train, the best generator registered;
- a sweep whose driver is killed (SIGKILL) resumes without rerunning the trials finished on disk;
- a latent-target sweep (3 windows × 2 methods) over a tiny NES generator writes the result table;
- Hydra multirun still works for small grids.
"""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import mlflow
import pytest

from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.train import run_train
from kinlatent.pipelines.tune import run_tune
from kinlatent.tune.results import read_overrides

REPO = Path(__file__).resolve().parents[2]
NES_TINY = ["generator.generations=4", "generator.eval_every=1", "generator.eval_sets=200", "generator.latent_dim=8",
            "generator.widths=[16]"]


def hydra_list(values: list[str]) -> str:
    return "[" + ",".join(json.dumps(v) for v in values) + "]"


def nes_sweep(tmp_path: Path, samples: int, *extra: str, generations: int = 4) -> list[str]:
    """Overrides of a tiny NES sweep (also valid on the command line)."""
    tiny = [o for o in NES_TINY if not o.startswith("generator.generations")] + [
        f"generator.generations={generations}"]
    return ["hparams_search=nes_varma", f"hparams_search.num_samples={samples}",
            "hparams_search.space.generator.population.choice=[4,6]",
            "hparams_search.space.generator.sets_per_member.choice=[20]",
            "hparams_search.space.generator.lr.loguniform=[1e-3,0.05]",
            f"overrides={hydra_list(tiny)}", f"output.dir={tmp_path / 'sweep'}",
            f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}", "verbose=0", *extra]


def children(store: str, parent_run_id: str):
    client = mlflow.MlflowClient(store)
    parent = client.get_run(parent_run_id)
    return client.search_runs([parent.info.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'")


def test_nes_sweep_with_asha_tracks_children_and_best_overrides_reproduce(local_ray, shared_models, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = time.perf_counter()
    result = run_tune(compose_config("tune", nes_sweep(tmp_path, 8, "registered_name=tuned-nes")))
    seconds = time.perf_counter() - started
    print(f"8-trial NES sweep: {seconds:.1f} s; statuses {[r.status for r in result.rows]}")
    assert len(result.rows) == 8 and len({r.trial_id for r in result.rows}) == 8
    assert all(r.status in ("complete", "stopped early") for r in result.rows)
    assert all(r.metrics.get("training_iteration", 0) <= 4 for r in result.rows)
    best = result.best
    assert best is not None and best.status == "complete"
    assert best.value("eval/frac_valid") == max(r.value("eval/frac_valid") for r in result.rows
                                                if r.status == "complete")

    # MLflow: one parent, 8 nested children with their config and per-report metrics
    parent = mlflow.MlflowClient(store).get_run(result.run_id)
    assert parent.data.metrics["sweep/n_trials"] == 8
    assert parent.data.metrics["best/eval/frac_valid"] == pytest.approx(best.value("eval/frac_valid"))
    runs = children(store, result.run_id)
    assert len(runs) == 8 and all(run.info.status == "FINISHED" for run in runs)
    for run in runs:
        assert {"generator.lr", "generator.sigma", "generator.population", "overrides"} <= set(run.data.params)
        assert {"eval/frac_valid", "train/reward", "training_iteration"} <= set(run.data.metrics)
    history = mlflow.MlflowClient(store).get_metric_history(runs[0].info.run_id, "eval/frac_valid")
    assert len(history) == runs[0].data.metrics["training_iteration"]  # one point per report
    artifacts = {a.path for a in mlflow.MlflowClient(store).list_artifacts(result.run_id)}
    assert {"results.csv", "results.md", "best_overrides.yaml"} <= artifacts
    best_run = next(run for run in runs if run.data.tags["kinlatent.trial_id"] == best.trial_id)
    versions = mlflow.MlflowClient(store).search_model_versions("name='tuned-nes'")
    assert len(versions) == 1 and versions[0].run_id == best_run.info.run_id

    # the best trial rerun through kinlatent train from best_overrides.yaml: same seed, same metric
    overrides = read_overrides(result.directory / "best_overrides.yaml")
    assert overrides == result.best_overrides and "generator.use_ray=false" in overrides
    rerun = run_train(compose_config("train", overrides + ["tracking=none", f"output.dir={tmp_path / 'rerun'}"]))
    assert rerun.history[-1]["eval/frac_valid"] == best.value("eval/frac_valid")
    assert rerun.frac_valid == best.metrics["final/frac_valid"]
    with open(result.directory / "results.csv") as handle:
        assert len(list(csv.DictReader(handle))) == 8


def _finished_on_disk(experiment: Path) -> dict[str, str]:
    """{trial id: status} from the newest Tune experiment state file (None while unreadable)."""
    states = sorted(experiment.glob("experiment_state-*.json"))
    if not states:
        return {}
    try:
        data = json.loads(states[-1].read_text())
    except (json.JSONDecodeError, OSError):
        return {}
    trials = [json.loads(entry[0]) for entry in data["trial_data"]]
    return {t["trial_id"]: t["status"] for t in trials}


def test_killed_sweep_resumes_without_rerunning_finished_trials(local_ray, shared_models, tmp_path):
    overrides = nes_sweep(tmp_path, 8, "hparams_search.scheduler.name=fifo", generations=3)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    experiment = tmp_path / "sweep" / "trials"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(tmp_path / "driver.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "kinlatent.cli", "tune", *overrides,
                                    f"hydra.run.dir={tmp_path / 'hydra'}", "ray.num_cpus=2"], env=env,
                                   start_new_session=True, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
    deadline = time.time() + 300
    states: dict[str, str] = {}
    while time.time() < deadline and process.poll() is None:
        states = _finished_on_disk(experiment)
        if sum(s == "TERMINATED" for s in states.values()) >= 2:
            break
        time.sleep(0.2)
    assert process.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    process.wait()
    time.sleep(2.0)
    states = _finished_on_disk(experiment)  # what a resume sees
    finished = sorted(t for t, s in states.items() if s == "TERMINATED")
    assert 2 <= len(finished) < 8, f"the sweep was not interrupted mid-way: {states}"
    trial_dirs = {t: next(experiment.glob(f"train_trial_{t}_*")) for t in finished}
    before = {t: ((d / "result.json").stat().st_mtime_ns, (d / "result.json").read_text())
              for t, d in trial_dirs.items()}
    parent_run_id = json.loads((tmp_path / "sweep" / "sweep.json").read_text())["parent_run_id"]

    started = time.perf_counter()
    result = run_tune(compose_config("tune", overrides + ["resume=true"]))
    print(f"killed with {len(finished)}/8 trials finished; resumed in {time.perf_counter() - started:.1f} s")
    assert len(result.rows) == 8 and {r.status for r in result.rows} == {"complete"}
    assert set(finished) <= {r.trial_id for r in result.rows}
    for trial, directory in trial_dirs.items():  # not rerun: their results are untouched
        mtime, text = before[trial]
        assert (directory / "result.json").stat().st_mtime_ns == mtime
        assert (directory / "result.json").read_text() == text and len(text.strip().splitlines()) == 3
    assert result.run_id == parent_run_id  # the same parent run continues
    runs = children(store, parent_run_id)
    assert sorted(run.data.tags["kinlatent.trial_id"] for run in runs) == sorted(r.trial_id for r in result.rows)
    assert all(run.info.status == "FINISHED" for run in runs)
    with pytest.raises(Exception, match="resume=true"):  # starting it again without resume is refused
        run_tune(compose_config("tune", overrides))


@pytest.fixture(scope="module")
def tiny_nes_generator(shared_models, tmp_path_factory):
    directory = tmp_path_factory.mktemp("tiny-generator") / "nes"
    run_train(compose_config("train", ["generator=nes", "generator.generations=2", "generator.population=4",
                                       "generator.sets_per_member=20", "generator.latent_dim=8",
                                       "generator.widths=[32]", "generator.use_ray=false", "generator.eval_every=0",
                                       "generator.eval_sets=100", "tracking=none", f"output.dir={directory}"]))
    return directory


def test_latent_target_sweep_writes_the_table(local_ray, tiny_nes_generator, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = time.perf_counter()
    result = run_tune(compose_config("tune", [
        "hparams_search=latent_targets", f"source={tiny_nes_generator}", "hparams_search.space.seed.grid=[0]",
        f"overrides={hydra_list(['n_models=20', 'prior_samples=200', 'search.max_evaluations=20000'])}",
        f"output.dir={tmp_path / 'sweep'}", f"tracking.uri={store}", "verbose=0"]))
    print(f"latent sweep: {time.perf_counter() - started:.1f} s")
    with open(result.directory / "results.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 6
    assert {r["target"] for r in rows} == {"lambda_fast", "lambda_mid", "lambda_slow"}
    assert {r["method"] for r in rows} == {"gradient", "cmaes"}
    assert {"hit_rate", "evaluations", "diversity", "wall_seconds"} <= set(rows[0])
    assert all(0.0 <= float(r["hit_rate"]) <= 1.0 and int(float(r["evaluations"])) > 0 for r in rows)
    markdown = (result.directory / "results.md").read_text()
    assert "| trial_id | target | window | method | seed | hit_rate |" in markdown and markdown.count("\n| ") == 7
    assert {r["window"] for r in rows} == {"lambda_max in [-30, -20]", "lambda_max in [-12, -8]",
                                           "lambda_max in [-4, -2.5]"}
    print(markdown)
    runs = children(store, result.run_id)
    assert len(runs) == 6 and all("explore/hit_rate" in run.data.metrics for run in runs)
    artifacts = {a.path for a in mlflow.MlflowClient(store).list_artifacts(result.run_id)}
    assert {"results.csv", "results.md", "best_overrides.yaml"} <= artifacts
    assert result.model_uri is None  # nothing trained: nothing registered
    assert any(o.startswith("target=") for o in read_overrides(result.directory / "best_overrides.yaml"))


def test_hydra_multirun_still_works_for_small_grids(shared_models, tmp_path):
    out = tmp_path / "multi"
    command = [sys.executable, "-m", "kinlatent.cli", "train", "-m", "generator.lr=0.001,0.01", "generator=nes",
               "generator.use_ray=false", "generator.population=4", "generator.sets_per_member=20",
               "generator.generations=2", "generator.latent_dim=8", "generator.widths=[16]", "generator.eval_every=0",
               "generator.eval_sets=100", "tracking=none", f"output.dir={out}/lr${{generator.lr}}",
               f"hydra.sweep.dir={tmp_path / 'sweep'}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "lr0.001" / "card.json").is_file() and (out / "lr0.01" / "card.json").is_file()
