"""Evaluating generated ensembles: incidence of valid models, distance to the training data, novelty."""
from __future__ import annotations

import numpy as np
from scipy.stats import wasserstein_distance


def incidence(lambda_max: np.ndarray, threshold: float) -> float:
    """Share of sets with a finite λmax below the threshold."""
    return float(np.mean(np.isfinite(lambda_max) & (lambda_max < threshold)))


def marginal_wasserstein(generated: np.ndarray, reference: np.ndarray, lower: np.ndarray,
                         upper: np.ndarray) -> np.ndarray:
    """Per-parameter Wasserstein-1 distance between marginals, in units of each parameter's range (0..1)."""
    span = np.maximum(upper - lower, 1e-12)
    return np.array([wasserstein_distance(generated[:, j] / span[j], reference[:, j] / span[j])
                     for j in range(generated.shape[1])])


def nearest_neighbour_distances(generated: np.ndarray, reference: np.ndarray, lower: np.ndarray,
                                upper: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Euclidean distance (in range-scaled units) from each generated set to its nearest reference row."""
    span = np.maximum(upper - lower, 1e-12)
    g, r = generated / span, reference / span
    r_sq = (r ** 2).sum(axis=1)
    out = np.empty(len(g))
    for start in range(0, len(g), chunk):
        block = g[start:start + chunk]
        d2 = (block ** 2).sum(axis=1)[:, None] + r_sq[None, :] - 2.0 * block @ r.T
        out[start:start + chunk] = np.sqrt(np.maximum(d2.min(axis=1), 0.0))
    return out
