"""REKINDLE acceptance (slow): GAN on 50,000 ORACLE sets of varma_strain_1, λmax < −9 1/h, ≥ 95 % valid."""
from __future__ import annotations

import mlflow
import pytest

from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.generate import run_generate
from kinlatent.pipelines.sample import run_sample
from kinlatent.pipelines.train import run_train


@pytest.mark.slow
def test_gan_generates_at_least_95_percent_valid_models(shared_models, local_ray, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = tmp_path / "samples"
    run_sample(compose_config("sample", ["sampler.n_samples=50000", "sampler.shard_size=10000", "progress=false",
                                         "tracking=none", f"output.dir={data}"]))
    trained = run_train(compose_config("train", ["generator=gan", f"data={data}", f"tracking.uri={store}",
                                                 f"output.dir={tmp_path / 'gan'}"]))
    assert 0.3 < trained.training_incidence < 0.7  # "roughly half of ORACLE samples pass" −9 1/h
    ensemble = run_generate(compose_config("generate", [f"source={tmp_path / 'gan'}", "n=10000", "seed=123",
                                                        "tracking=none", f"output.dir={tmp_path / 'ensemble'}"]))
    print(f"\nGAN: training incidence {trained.training_incidence:.3f}; generated valid {ensemble.frac_valid:.4f}")
    assert ensemble.frac_valid >= 0.95
    mlflow.set_tracking_uri(store)
    metrics = mlflow.get_run(trained.run_id).data.metrics
    print({k: round(v, 4) for k, v in metrics.items() if k.startswith(("final/", "data/"))})
    assert metrics["final/wasserstein_mean"] > 0
    # not copies of training rows: the nearest training row is as far as training rows are from each other
    assert metrics["final/nn_distance_min"] > 0.25 * metrics["data/nn_distance_median"]
