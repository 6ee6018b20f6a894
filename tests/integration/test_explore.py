"""Latent exploration on varma_strain_1 with a trained NES generator: searches, bottleneck, directions, the job."""
from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from kinlatent.generators.card import load_generator
from kinlatent.hydra_app import compose_config
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.search import (LatentProblem, cmaes_search, direction_search, gradient_search, interpolate,
                                     rejection_search, walk_direction)
from kinlatent.latent.targets import parse_target
from kinlatent.pipelines.explore import run_explore
from kinlatent.sampling.dataset import read_dataset

WINDOW = (-12.0, -8.0)


@pytest.fixture(scope="module")
def evaluator(physiology1):
    return PropertyEvaluator(physiology1)


@pytest.fixture(scope="module")
def generator(nes_generator_dir):
    return load_generator(nes_generator_dir)[0]


def problem_for(generator, evaluator, target: dict) -> LatentProblem:
    return LatentProblem(generator, evaluator, parse_target(target, evaluator))


def independent_lambda_max(oracle1, ln_km: np.ndarray) -> np.ndarray:
    """λmax from numpy's eigenvalues of a freshly assembled J_r (not the search's own values)."""
    jacobians = oracle1.reduced_jacobian(torch.as_tensor(ln_km)).numpy()
    return np.linalg.eigvals(jacobians).real.max(axis=1)


@pytest.mark.parametrize("search", ["gradient", "cmaes"])
def test_searches_return_distinct_models_inside_the_window(generator, evaluator, oracle1, search):
    problem = problem_for(generator, evaluator, {"windows": {"lambda_max": list(WINDOW)}})
    if search == "gradient":
        result = gradient_search(problem, 100, 130, steps=300, seed=1)
    else:
        result = cmaes_search(problem, 100, 50_000, seed=1)
    assert result.n_found == 100
    assert len(np.unique(np.round(result.ln_km, 6), axis=0)) == 100
    lam = independent_lambda_max(oracle1, result.ln_km)
    assert np.mean((lam >= WINDOW[0]) & (lam <= WINDOW[1])) >= 0.9
    assert result.evaluations >= 100 and result.wall_seconds > 0


def test_rejection_baseline_reports_the_prior_hit_rate(generator, evaluator, oracle1):
    problem = problem_for(generator, evaluator, {"windows": {"lambda_max": list(WINDOW)}})
    result = rejection_search(problem, 10_000, 4096, seed=3)
    z = torch.cat([problem.prior(2048, s) for s in
                   [int(np.random.SeedSequence([3, b]).generate_state(1)[0]) for b in range(2)]])
    with torch.no_grad():
        lam = independent_lambda_max(oracle1, problem.decode(z).numpy())
    expected = np.mean((lam >= WINDOW[0]) & (lam <= WINDOW[1]))
    assert result.evaluations == 4096
    assert result.trace["prior_hit_rate"] == pytest.approx(expected, abs=1e-3)


def test_bottleneck_target_makes_a_rare_enzyme_the_top_controller(generator, evaluator, physiology1):
    model = physiology1.model
    glc = model.reaction_names.index("GLCptspp")
    problem = problem_for(generator, evaluator, {"top_controller": {"flux": "GLCptspp", "enzyme": "ATPS4rpp"}})
    with torch.no_grad():
        prior = evaluator.control.coefficients(problem.decode(problem.prior(1000, 7))).flux[:, glc, :]
    atps = model.reaction_names.index("ATPS4rpp")
    prior_frequency = float((prior.abs().argmax(dim=-1) == atps).double().mean())
    assert prior_frequency < 0.05  # rarely the top controller under the prior
    result = gradient_search(problem, 100, 160, steps=300, seed=2)
    assert result.n_found >= 100
    with torch.no_grad():  # recompute C^J from ln Km with the unscaled formula and the fluxes, independently
        flux_cc, _, _ = evaluator.control.unscaled(torch.as_tensor(result.ln_km))
    v = physiology1.fluxes
    row = flux_cc[:, glc, :].numpy() * v[None, :] / v[glc]
    assert np.mean(np.abs(row).argmax(axis=1) == atps) >= 0.9


def test_lambda_max_direction_is_monotone(generator, evaluator):
    problem = problem_for(generator, evaluator, {"windows": {"lambda_max": list(WINDOW)}})
    result = direction_search(problem, 50, n_samples=1500, steps=np.linspace(-4, 4, 9), n_starts=100, seed=0)
    direction = result.trace["direction"]
    profile, *_ = walk_direction(problem, direction, np.linspace(-4, 4, 9), n_starts=100, seed=5)
    assert spearmanr(profile.steps, profile.mean).statistic >= 0.9
    assert profile.spearman >= 0.9 and np.linalg.norm(direction.direction) == pytest.approx(1.0)


def test_interpolation_paths_start_and_end_at_the_given_points(generator, evaluator):
    problem = problem_for(generator, evaluator, {"windows": {"lambda_max": list(WINDOW)}})
    z = problem.prior(2, 11).numpy().astype(float)
    z[1] *= np.linalg.norm(z[0]) / np.linalg.norm(z[1])  # equal norms: slerp stays on the sphere
    for kind in ("linear", "spherical"):
        path = interpolate(problem, z[0], z[1], 11, kind)
        np.testing.assert_allclose(path.z[[0, -1]], z, atol=1e-12)
        assert np.all(np.isfinite(path.values["lambda_max"]))
    spherical = interpolate(problem, z[0], z[1], 11, "spherical")
    np.testing.assert_allclose(np.linalg.norm(spherical.z, axis=1), np.linalg.norm(z[0]), rtol=1e-9)


def test_explore_job_writes_a_validated_ensemble_and_tracks_it(nes_generator_dir, local_ray, tmp_path, oracle1):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    out = tmp_path / "explore"
    cfg = compose_config("explore", [f"source={nes_generator_dir}", "target=lambda_mid", "search=cmaes",
                                     "n_models=60", "workers=2", "prior_samples=500", f"output.dir={out}",
                                     f"tracking.uri={store}"])
    result = run_explore(cfg)
    frame = read_dataset(out)
    km = json.loads((out / "manifest.json").read_text())["km_columns"]
    assert len(frame) == 60 and frame["valid"].all()
    lam = independent_lambda_max(oracle1, frame[km].to_numpy())
    np.testing.assert_allclose(frame["lambda_max"], lam, rtol=1e-6)
    assert np.all((lam >= WINDOW[0]) & (lam <= WINDOW[1]))
    assert np.load(out / "latent.npy").shape == (60, 99)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["hit_rate"] == 1.0 and summary["n_found"] == 60 and summary["diversity"] > 0
    mlflow.set_tracking_uri(store)
    run = mlflow.get_run(result.run_id)
    assert {"explore/hit_rate", "explore/evaluations", "explore/diversity", "explore/prior_hit_rate",
            "explore/wall_seconds"} <= set(run.data.metrics)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {"latent_map.png", "property_distribution.png", "direction_profile.png", "interpolation.png",
            "summary.json"} <= artifacts
    again = run_explore(cfg)  # complete: resumed, nothing recomputed
    assert again.run_id is None and again.summary["n_found"] == 60


def test_explore_refuses_bad_targets_before_any_work(nes_generator_dir, tmp_path):
    from kinlatent.exceptions import ConfigError

    with pytest.raises(ConfigError, match="valid: lambda_max"):
        run_explore(compose_config("explore", [f"source={nes_generator_dir}", "tracking=none",
                                               "+target.windows.bogus=[0,1]", f"output.dir={tmp_path / 'x'}"]))
    assert not (tmp_path / "x").exists()
    with pytest.raises(ConfigError, match="unknown search method"):
        run_explore(compose_config("explore", [f"source={nes_generator_dir}", "tracking=none",
                                               "search.method=annealing", f"output.dir={tmp_path / 'x'}"]))
