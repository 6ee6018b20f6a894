"""Paths between two latent points (linear and spherical) with the property profile along them."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinlatent.exceptions import ConfigError
from kinlatent.latent.search.problem import LatentProblem


@dataclass(frozen=True)
class PathProfile:
    """Property values and target satisfaction at each point t ∈ [0, 1] of a path."""

    kind: str
    t: np.ndarray
    z: np.ndarray
    values: dict[str, np.ndarray]
    satisfied: np.ndarray


def slerp(z_a: np.ndarray, z_b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation (falls back to linear for nearly parallel points)."""
    cos = float(np.dot(z_a, z_b) / (np.linalg.norm(z_a) * np.linalg.norm(z_b)))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t)[:, None] * z_a + t[:, None] * z_b
    return (np.sin((1 - t) * omega)[:, None] * z_a + np.sin(t * omega)[:, None] * z_b) / np.sin(omega)


def interpolate(problem: LatentProblem, z_a: np.ndarray, z_b: np.ndarray, n_points: int = 21,
                kind: str = "linear") -> PathProfile:
    """Evaluate the target's properties along the path from z_a to z_b."""
    if kind not in ("linear", "spherical"):
        raise ConfigError(f"interpolation must be 'linear' or 'spherical', got {kind!r}", key="search.kind")
    if n_points < 2:
        raise ConfigError(f"need at least 2 points on a path, got {n_points}", key="search.n_points")
    z_a, z_b = np.asarray(z_a, dtype=float), np.asarray(z_b, dtype=float)
    t = np.linspace(0.0, 1.0, n_points)
    z = (1 - t)[:, None] * z_a + t[:, None] * z_b if kind == "linear" else slerp(z_a, z_b, t)
    _, satisfied, _, values = problem.assess_numpy(z.astype(np.float32))
    return PathProfile(kind, t, z, values, satisfied)
