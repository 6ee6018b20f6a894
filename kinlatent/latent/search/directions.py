"""Latent directions: a linear probe property ~ z fitted on prior samples, and walks along it.

The probe is a ridge regression on standardised z; its unit weight vector is the direction along which the
property changes fastest (to first order). ``walk_direction`` moves many start points along it and reports the
property profile per step with Spearman's ρ between step and mean property; ``direction_search`` uses the walk
to collect sets that satisfy the target.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr

from kinlatent.exceptions import ConfigError
from kinlatent.latent.search.problem import LatentProblem
from kinlatent.latent.search.result import SearchResult, empty_result, merge_results


@dataclass(frozen=True)
class LatentDirection:
    """Unit direction in latent space for ``prop``; ``slope`` = property change per unit step; R² of the probe."""

    prop: str
    direction: np.ndarray
    slope: float
    intercept: float
    r2: float


@dataclass(frozen=True)
class DirectionProfile:
    """Property along a direction: per step the mean, 10 % and 90 % quantiles and the share hitting the target."""

    prop: str
    steps: np.ndarray
    mean: np.ndarray
    q10: np.ndarray
    q90: np.ndarray
    hit_fraction: np.ndarray
    spearman: float


def fit_direction(problem: LatentProblem, prop: str, n_samples: int = 2000, ridge: float = 1.0,
                  seed: int = 0) -> LatentDirection:
    """Fit property ~ z by ridge regression on prior samples (non-finite values dropped)."""
    parsed = problem.evaluator.parse(prop, key="search.property")
    if parsed.kind == "top_controller":
        raise ConfigError("a direction needs a numeric property, not top_controller", key="search.property")
    z = problem.prior(n_samples, seed)
    with torch.no_grad():
        y = problem.evaluator.evaluate([parsed], problem.decode(z))[prop].numpy()
    problem.evaluations += n_samples
    keep = np.isfinite(y)
    if keep.sum() < 10:
        raise ConfigError(f"property {prop!r} is finite for only {int(keep.sum())} of {n_samples} samples",
                          key="search.property")
    x, y = z.numpy()[keep].astype(float), y[keep]
    x_mean, y_mean = x.mean(axis=0), y.mean()
    xc = x - x_mean
    weights = np.linalg.solve(xc.T @ xc + ridge * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    predicted = xc @ weights + y_mean
    r2 = 1.0 - float(((y - predicted) ** 2).sum() / max(((y - y_mean) ** 2).sum(), 1e-300))
    norm = float(np.linalg.norm(weights))
    if norm == 0.0:
        raise ConfigError(f"property {prop!r} does not vary with z", key="search.property")
    return LatentDirection(prop, weights / norm, norm, float(y_mean - x_mean @ weights), r2)


def walk_direction(problem: LatentProblem, direction: LatentDirection, steps: np.ndarray, n_starts: int = 200,
                   seed: int = 1) -> tuple[DirectionProfile, np.ndarray, np.ndarray, np.ndarray,
                                           dict[str, np.ndarray]]:
    """Move ``n_starts`` prior points by t·d for every t in ``steps``.

    Returns the profile and, flattened over (step, start), z, ln Km, satisfaction and the target's values.
    """
    starts = problem.prior(n_starts, seed).numpy()
    steps = np.asarray(steps, dtype=float)
    z = (starts[None, :, :] + steps[:, None, None] * direction.direction[None, None, :]).reshape(-1, starts.shape[1])
    ln_km, satisfied, _, values = problem.assess_numpy(z.astype(np.float32))
    with torch.no_grad():
        prop = problem.evaluator.evaluate([direction.prop], torch.as_tensor(ln_km))[direction.prop].numpy()
    per_step = prop.reshape(len(steps), n_starts)
    mean = np.nanmean(per_step, axis=1)
    rho = float(spearmanr(steps, mean).statistic) if len(steps) > 2 else float("nan")
    profile = DirectionProfile(direction.prop, steps, mean, np.nanquantile(per_step, 0.1, axis=1),
                               np.nanquantile(per_step, 0.9, axis=1),
                               satisfied.reshape(len(steps), n_starts).mean(axis=1), rho)
    return profile, z.astype(np.float32), ln_km, satisfied, values


def direction_search(problem: LatentProblem, n_wanted: int, n_samples: int = 2000, steps: np.ndarray | None = None,
                     n_starts: int = 500, seed: int = 0) -> SearchResult:
    """Fit the direction of the target's first property, walk along it, and keep the points that hit."""
    started = time.perf_counter()
    prop = problem.target.properties[0].text
    direction = fit_direction(problem, prop, n_samples, seed=seed)
    steps = np.linspace(-6.0, 6.0, 25) if steps is None else np.asarray(steps, dtype=float)
    profile, z, ln_km, satisfied, values = walk_direction(problem, direction, steps, n_starts, seed=seed + 1)
    rows = np.flatnonzero(satisfied)
    names = list(values)
    if len(rows):
        result = merge_results([SearchResult("direction", z[rows], ln_km[rows],
                                             {k: values[k][rows] for k in names}, 0, 0.0)], limit=n_wanted)
    else:
        result = empty_result("direction", problem.latent_dim, ln_km.shape[1], names)
    result.evaluations = problem.evaluations
    result.wall_seconds = time.perf_counter() - started
    result.trace = {"direction": direction, "profile": profile}
    return result
