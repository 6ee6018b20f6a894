"""Training jobs (NES, GAN) and generation end to end, with a real local Ray and MLflow sqlite store."""
from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest

from kinlatent.generators.card import GeneratorCardError
from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.generate import run_generate
from kinlatent.pipelines.sample import run_sample
from kinlatent.pipelines.train import run_train
from kinlatent.sampling.dataset import DatasetError, read_dataset


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory, shared_models, local_ray):
    directory = tmp_path_factory.mktemp("data") / "ds"
    run_sample(compose_config("sample", ["+debug=tiny", "tracking=none", f"output.dir={directory}"]))
    return directory


NES_TINY = ["generator=nes", "generator.generations=3", "generator.population=4", "generator.sets_per_member=30",
            "generator.eval_every=1", "generator.eval_sets=200", "generator.latent_dim=8", "generator.widths=[16]"]


def test_nes_job_tracks_registers_and_regenerates(local_ray, store, tmp_path):
    result = run_train(compose_config("train", NES_TINY + [
        f"output.dir={tmp_path / 'nes'}", f"tracking.uri={store}", "tracking.experiment=train-test",
        "generator.registered_name=test-nes"]))
    assert result.kind == "nes" and len(result.history) == 3 and 0.0 <= result.frac_valid <= 1.0
    mlflow.set_tracking_uri(store)
    run = mlflow.get_run(result.run_id)
    assert {"train/reward", "eval/frac_valid", "final/frac_valid"} <= set(run.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"learning_curve.png", "ln_km_distributions.png"} <= artifacts
    assert result.model_uri and mlflow.pytorch.load_model(result.model_uri) is not None  # MLflow 3 logged model
    versions = mlflow.MlflowClient().search_model_versions("name='test-nes'")
    assert len(versions) == 1
    from_file = run_generate(compose_config("generate", [
        f"source={tmp_path / 'nes'}", "n=1500", "seed=4", "tracking=none", f"output.dir={tmp_path / 'e1'}"]))
    from_registry = run_generate(compose_config("generate", [
        "source=models:/test-nes/1", "n=1500", "seed=4", f"tracking.uri={store}", f"output.dir={tmp_path / 'e2'}"]))
    first, second = read_dataset(from_file.directory), read_dataset(from_registry.directory)
    km = json.loads((tmp_path / "nes" / "card.json").read_text())["parameter_names"]
    assert list(first.columns[:len(km)]) == km
    assert np.array_equal(first[km].to_numpy(), second[km].to_numpy())  # bit-identical regeneration
    assert first["valid"].mean() == pytest.approx(from_file.frac_valid)


def test_gan_job_on_a_sampled_training_set(tiny_dataset, store, tmp_path):
    result = run_train(compose_config("train", [
        "generator=gan", f"data={tiny_dataset}", "generator.epochs=2", "generator.batch_size=128",
        "generator.eval_every=1", "generator.eval_sets=200", f"output.dir={tmp_path / 'gan'}",
        f"tracking.uri={store}", "generator.registered_name=test-gan"]))
    frame = read_dataset(tiny_dataset)
    assert result.training_incidence == pytest.approx((frame["lambda_max"] < -9.0).mean())
    mlflow.set_tracking_uri(store)
    metrics = mlflow.get_run(result.run_id).data.metrics
    assert {"train/loss_d", "train/loss_g", "eval/frac_valid", "eval/wasserstein_mean",
            "final/nn_distance_median", "data/frac_valid"} <= set(metrics)
    assert metrics["final/nn_distance_min"] > 0  # generated sets are not copies of training rows


def test_training_set_for_another_model_is_refused(tiny_dataset, tmp_path):
    with pytest.raises(DatasetError, match="another model"):
        run_train(compose_config("train", ["model=varma_strain_2", "generator=gan", f"data={tiny_dataset}",
                                           "tracking=none", f"output.dir={tmp_path / 'x'}"]))


def test_all_invalid_training_set_is_refused(tiny_dataset, tmp_path):
    with pytest.raises(DatasetError, match="nothing valid"):
        run_train(compose_config("train", ["generator=gan", f"data={tiny_dataset}", "generator.threshold=-1e9",
                                           "tracking=none", f"output.dir={tmp_path / 'x'}"]))


def test_generator_card_for_another_model_is_refused(local_ray, tmp_path):
    run_train(compose_config("train", NES_TINY + ["generator.generations=1", "generator.eval_every=0",
                                                  "tracking=none", f"output.dir={tmp_path / 'g'}"]))
    with pytest.raises(GeneratorCardError, match="another model"):
        run_generate(compose_config("generate", ["model=varma_strain_2", f"source={tmp_path / 'g'}", "n=10",
                                                 "tracking=none", f"output.dir={tmp_path / 'e'}"]))
    assert not (tmp_path / "e").exists()


def test_training_set_with_other_columns_is_refused(tiny_dataset, tmp_path):
    import shutil

    copy = tmp_path / "renamed"
    shutil.copytree(tiny_dataset, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["km_columns"][0] = "km_substrate_NOTHERE"
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="do not match") as info:
        run_train(compose_config("train", ["generator=gan", f"data={copy}", "tracking=none",
                                           f"output.dir={tmp_path / 'x'}"]))
    assert "km_substrate_NOTHERE" in str(info.value)



def test_nes_from_random_init_reaches_90_percent_valid_within_50_generations(local_ray, physiology1, tmp_path):
    """RENAISSANCE acceptance on varma_strain_1 (λmax < −9 1/h), RENAISSANCE defaults with rewards as Ray tasks,
    stopped at 12 of the allowed 50 generations; the incidence is checked on fresh generated sets by the kinetic
    core; wall time, the reward curve and a random initialisation's incidence are printed."""
    import time

    import torch

    from kinlatent.generators.bounds import saturation_bounds
    from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
    from kinlatent.transfer.generator_ops import generated_lambda_max

    names = physiology1.model.km_parameter_names
    torch.manual_seed(0)
    untrained = MLPGenerator(GeneratorSpec(n_outputs=len(names), latent_dim=99, widths=(256, 512, 1024),
                                           normalisation="none", dropout=0.0), *saturation_bounds(physiology1, names))
    lam = generated_lambda_max(untrained, physiology1.oracle(), 500, seed=1)
    untrained_valid = float(np.mean(np.isfinite(lam) & (lam < -9.0)))
    started = time.perf_counter()
    result = run_train(compose_config("train", ["generator=nes", "generator.generations=12", "generator.eval_every=1",
                                                "generator.eval_sets=500", "tracking=none",
                                                f"output.dir={tmp_path / 'nes'}"]))
    seconds = time.perf_counter() - started
    rewards = [round(h["train/reward"], 3) for h in result.history]
    valid = [round(h["eval/frac_valid"], 3) for h in result.history]
    print(f"\nNES: random initialisation {untrained_valid:.3f} valid; {len(result.history)} generations, "
          f"{seconds:.1f} s; reward {rewards}; valid after each generation {valid}; final {result.frac_valid:.3f}")
    # the saturation-centred output bounds put an untrained network at σ ≈ 0.5 everywhere (the half-saturated
    # reference, λmax ≈ −11.7 1/h): on varma_strain_1 it starts near the goal. NES learning from a poor start
    # is asserted in test_transfer_study.py (strain 2 from scratch: 2.6 % → ≥ 90 % in 10 generations).
    assert result.frac_valid >= 0.9 and len(result.history) == 12 and max(rewards) > rewards[0]


def test_retrained_generator_is_never_silently_reused_or_overwritten(local_ray, tmp_path):
    """train refuses to replace a generator trained with other settings; a generator replaced on purpose
    (output.replace=true) makes generate refuse its old ensemble instead of reusing it."""
    from kinlatent.exceptions import ConfigError

    base = NES_TINY + ["tracking=none", "generator.use_ray=false", f"output.dir={tmp_path / 'nes'}"]
    run_train(compose_config("train", base))
    first_weights = (tmp_path / "nes" / "state_dict.pt").read_bytes()
    run_train(compose_config("train", base))  # the same settings again: allowed, the same generator
    assert (tmp_path / "nes" / "state_dict.pt").read_bytes() == first_weights
    with pytest.raises(ConfigError, match="trained with other settings") as caught:
        run_train(compose_config("train", base + ["generator.lr=0.02"]))
    assert caught.value.key == "output.dir"
    assert (tmp_path / "nes" / "state_dict.pt").read_bytes() == first_weights  # untouched

    generate = ["source=" + str(tmp_path / "nes"), "n=300", "seed=1", "tracking=none", f"output.dir={tmp_path / 'e'}"]
    run_generate(compose_config("generate", generate))
    run_train(compose_config("train", base + ["generator.lr=0.02", "output.replace=true"]))
    assert (tmp_path / "nes" / "state_dict.pt").read_bytes() != first_weights
    with pytest.raises(ConfigError, match="differs in: generator_weights_sha256"):
        run_generate(compose_config("generate", generate))
