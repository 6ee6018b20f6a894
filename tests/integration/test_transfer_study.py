"""Transfer studies end to end on the published models: real local Ray, real MLflow sqlite store.

- varma_strain_1 → varma_strain_2: the direct-reuse baseline is reported; NES fine-tuning for 10 generations
  reaches ≥ 90 % valid (λmax < −9 1/h), rechecked here from the saved generator with a kinetic core built on the
  strain-2 steady state found independently from its model file; from-scratch rows with the same budget beside it;
- four conditions × every method in one command, killed mid-way and rerun: finished rows are reused, not
  recomputed, and MLflow holds one child run per row.
"""
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
import torch

from kinlatent.generators.card import load_generator
from kinlatent.generators.sampling import generate_ln_km
from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.transfer_study import run_transfer_study
from kinlatent.sampling.dataset import read_dataset
from kinlatent.stability import OracleStability

REPO = Path(__file__).resolve().parents[2]
COLUMNS = {"condition", "method", "budget", "flux_shift", "incidence_before", "incidence_after", "evaluations",
           "wall_seconds"}


def _children(store: str, parent_run_id: str):
    client = mlflow.MlflowClient(store)
    parent = client.get_run(parent_run_id)
    return client.search_runs([parent.info.experiment_id],
                              filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}'")


def test_strain1_to_strain2_fine_tuned_generator_is_90_percent_valid(local_ray, nes_generator_dir, strain2, steady2,
                                                                     tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    started = time.perf_counter()
    result = run_transfer_study(compose_config("transfer_study", [
        f"study.source={nes_generator_dir}", "study.conditions=[varma_strain_2]",
        "study.methods={direct: [], direct_saturation: [], nes_finetune: [10], nes_scratch: [10], "
        "gan_finetune: [100], gan_scratch: [100], latent_retarget: [2000]}", f"output.dir={tmp_path / 'study'}", f"tracking.uri={store}",
        "progress=false"]))
    print(f"\nstrain 1 → strain 2 ({time.perf_counter() - started:.0f} s)\n{result.report}")
    rows = {r["method"]: r for r in result.rows}
    assert set(rows) == {"direct", "direct_saturation", "nes_finetune", "nes_scratch", "gan_finetune", "gan_scratch",
                         "latent_retarget"}
    assert all(r["threshold"] == -9.0 for r in result.rows)  # the source generator's (RENAISSANCE) threshold
    assert rows["direct"]["incidence_after"] == rows["direct"]["incidence_before"]  # the baseline, reported
    assert rows["nes_finetune"]["incidence_after"] >= 0.9 and rows["nes_finetune"]["evaluations"] == 10 * 40 * 100
    assert rows["nes_scratch"]["budget"] == rows["nes_finetune"]["budget"]  # from scratch, same budget, beside it
    # NES learns from a poor random start too (RENAISSANCE from scratch at strain 2)
    assert rows["nes_scratch"]["incidence_before"] < 0.1 and rows["nes_scratch"]["incidence_after"] >= 0.9
    assert rows["gan_scratch"]["evaluations"] == rows["gan_finetune"]["evaluations"] == 100

    # independent check: the saved generator, fresh latent draws, a kinetic core on strain 2's own steady state
    generator, card = load_generator(result.directory / "rows" / "varma_strain_2__nes_finetune__b10__s0" / "generator")
    card.check_model(strain2.fingerprint(), strain2.km_parameter_names)  # a generator for the strain-2 model
    oracle = OracleStability(strain2, steady2.concentrations, steady2.fluxes)
    ln_km = torch.cat(list(generate_ln_km(generator, 2000, seed=2024)))
    with torch.no_grad():
        lam = oracle.evaluate(ln_km).lambda_max.numpy()
    assert np.mean(np.isfinite(lam) & (lam < -9.0)) >= 0.9
    # the stored ensemble is what the kinetic core says
    ensemble = read_dataset(result.directory / "rows" / "varma_strain_2__nes_finetune__b10__s0" / "ensemble")
    picked = ensemble.sample(50, random_state=0)
    with torch.no_grad():
        again = oracle.evaluate(torch.as_tensor(picked[list(card.parameter_names)].to_numpy())).lambda_max.numpy()
    np.testing.assert_allclose(again, picked["lambda_max"].to_numpy(), rtol=1e-6)
    assert ensemble["valid"].mean() == pytest.approx(rows["nes_finetune"]["incidence_after"])

    runs = _children(store, result.run_id)
    assert len(runs) == 7 and all(run.info.status == "FINISHED" for run in runs)
    assert {run.data.params["method"] for run in runs} == set(rows)
    assert all("transfer/incidence_after" in run.data.metrics for run in runs)
    artifacts = {a.path for a in mlflow.MlflowClient(store).list_artifacts(result.run_id)}
    assert {"results.csv", "results.md", "incidence_vs_budget.png", "study.json"} <= artifacts


def _finished_rows(directory: Path) -> dict[str, int]:
    return {p.parent.name: p.stat().st_mtime_ns for p in directory.glob("rows/*/row.json")}


def test_four_conditions_in_one_command_resume_after_a_kill(local_ray, nes_generator_dir, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "study"
    overrides = [f"study.source={nes_generator_dir}", "study.methods={direct: [], direct_saturation: [], "
                 "gan_finetune: [60], gan_scratch: [60], nes_finetune: [2], nes_scratch: [2], latent_retarget: [400]}",
                 "study.settings.nes.population=10", "study.settings.nes.sets_per_member=40",
                 "study.settings.gan.steps=60", "study.settings.latent.hits=200", "study.eval_sets=300",
                 f"output.dir={out}", f"tracking.uri={store}", "progress=false"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    with open(tmp_path / "driver.log", "w") as log:
        process = subprocess.Popen([sys.executable, "-m", "kinlatent.cli", "transfer-study", *overrides,
                                    f"hydra.run.dir={tmp_path / 'hydra'}", "ray.num_cpus=2"], env=env, cwd=tmp_path,
                                   start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None and len(_finished_rows(out)) < 4:
        time.sleep(0.2)
    assert process.poll() is None, (tmp_path / "driver.log").read_text()[-3000:]
    os.killpg(process.pid, signal.SIGKILL)  # the driver and the Ray instance it started
    process.wait()
    time.sleep(1.0)
    before = _finished_rows(out)
    assert 4 <= len(before) < 28, before

    started = time.perf_counter()
    result = run_transfer_study(compose_config("transfer_study", overrides))
    print(f"\nkilled with {len(before)}/28 rows; resumed in {time.perf_counter() - started:.0f} s\n{result.report}")
    assert len(result.rows) == 28 and result.reused == len(before)
    after = _finished_rows(out)
    assert all(after[key] == mtime or json.loads((out / "rows" / key / "row.json").read_text()).get("child_run_id")
               for key, mtime in before.items())  # reused (at most its child run id added), not recomputed
    table = pd.read_csv(out / "results.csv")
    assert COLUMNS <= set(table.columns) and len(table) == 28
    assert set(table["condition"]) == {"varma_strain_2", "pfk_2x", "pgi_half", "glucose_1p5x"}
    assert set(table["method"]) == {"direct", "direct_saturation", "gan_finetune", "gan_scratch", "nes_finetune",
                                    "nes_scratch", "latent_retarget"}
    assert table.loc[table["condition"] == "pgi_half", "flux_shift"].iloc[0] > 0
    assert table["incidence_after"].between(0, 1).all() and (table["wall_seconds"] > 0).all()
    assert (out / "incidence_vs_budget.png").stat().st_size > 10_000
    runs = _children(store, result.run_id)
    assert sorted(run.data.tags["kinlatent.study_row"] for run in runs) == sorted(r["key"] for r in result.rows)

    settled = _finished_rows(out)
    again = run_transfer_study(compose_config("transfer_study", overrides))  # nothing left to do
    assert again.reused == 28 and again.run_id == result.run_id
    assert _finished_rows(out) == settled and len(_children(store, result.run_id)) == 28


def test_source_generator_is_trained_once_when_none_is_given(local_ray, tmp_path):
    train = ["generator=nes", "generator.generations=1", "generator.population=4", "generator.sets_per_member=10",
             "generator.latent_dim=4", "generator.widths=[8]", "generator.use_ray=false", "generator.eval_every=0",
             "generator.eval_sets=50"]
    listed = "[" + ",".join(json.dumps(o) for o in train) + "]"
    overrides = ["study.source=null", f"study.source_train={listed}", "study.conditions=[pgi_half]",
                 "study.methods={gan_finetune: [30], gan_scratch: [30], nes_finetune: [1], nes_scratch: [1], "
                 "latent_retarget: [100]}", "study.settings.nes.population=4", "study.settings.nes.sets_per_member=10",
                 "study.settings.gan.steps=10", "study.settings.latent.hits=20", "study.eval_sets=100",
                 f"output.dir={tmp_path / 'study'}", "tracking=none", "progress=false", "use_ray=false"]
    first = run_transfer_study(compose_config("transfer_study", overrides))
    card = tmp_path / "study" / "source" / "card.json"
    assert card.is_file() and len(first.rows) == 7
    assert json.loads(card.read_text())["spec"]["latent_dim"] == 4
    mtime = card.stat().st_mtime_ns
    again = run_transfer_study(compose_config("transfer_study", overrides))
    assert again.reused == 7 and card.stat().st_mtime_ns == mtime  # the source is trained once
    # damaged files of a finished study: a row.json that is not an object is recomputed, a broken study.json
    # is rewritten; nothing else is touched
    damaged = tmp_path / "study" / "rows" / "pgi_half__direct__b0__s0" / "row.json"
    damaged.write_text("[1, 2]")
    (tmp_path / "study" / "study.json").write_text('{"name": ')
    repaired = run_transfer_study(compose_config("transfer_study", overrides))
    assert repaired.reused == 6 and json.loads(damaged.read_text())["method"] == "direct"
    assert json.loads((tmp_path / "study" / "study.json").read_text())["name"] == "varma_four_conditions"
    from kinlatent.exceptions import ConfigError

    other = listed.replace("generator.generations=1", "generator.generations=2")
    with pytest.raises(ConfigError, match="trained with other overrides") as caught:
        run_transfer_study(compose_config("transfer_study", overrides + [f"study.source_train={other}"]))
    assert caught.value.key == "study.source_train" and card.stat().st_mtime_ns == mtime
