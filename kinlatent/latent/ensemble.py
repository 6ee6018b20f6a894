"""Independent validation and diversity of a found ensemble."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.targets import TargetSet, assess
from kinlatent.physiology import Physiology


@dataclass(frozen=True)
class EnsembleCheck:
    """Target satisfaction and properties recomputed from the stored ln Km by a fresh kinetic core."""

    satisfied: np.ndarray
    values: dict[str, np.ndarray]


def recheck(physiology: Physiology, target: TargetSet, ln_km: np.ndarray, chunk: int = 2048) -> EnsembleCheck:
    """Recompute every constraint of ``target`` in float64 from ``ln_km`` with a new evaluator."""
    evaluator = PropertyEvaluator(physiology)
    satisfied, values = [], []
    with torch.no_grad():
        for start in range(0, len(ln_km), chunk):
            result = assess(target, evaluator, torch.as_tensor(ln_km[start:start + chunk], dtype=torch.float64))
            satisfied.append(result.satisfied.numpy())
            values.append({k: v.numpy() for k, v in result.values.items()})
    if not values:
        return EnsembleCheck(np.zeros(0, dtype=bool), {p.text: np.zeros(0) for p in target.properties})
    return EnsembleCheck(np.concatenate(satisfied), {k: np.concatenate([v[k] for v in values]) for k in values[0]})


def mean_pairwise_distance(ln_km: np.ndarray, max_rows: int = 2000, seed: int = 0) -> float:
    """Mean Euclidean distance between distinct rows (ln Km), on a random subset of at most ``max_rows``."""
    if len(ln_km) < 2:
        return 0.0
    rows = np.random.default_rng(seed).permutation(len(ln_km))[:max_rows]
    x = torch.as_tensor(ln_km[rows], dtype=torch.float64)
    distances = torch.cdist(x, x)
    n = len(rows)
    return float(distances.sum() / (n * (n - 1)))
