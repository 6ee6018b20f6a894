"""Side-by-side comparison of latent search methods on several targets (one table row per target × method)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from kinlatent.generators.mlp import MLPGenerator
from kinlatent.latent.ensemble import mean_pairwise_distance, recheck
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.search import LatentProblem, cmaes_search, gradient_search, rejection_search
from kinlatent.latent.targets import parse_target
from kinlatent.physiology import Physiology


def compare_methods(physiology: Physiology, generator: MLPGenerator, targets: Sequence[Mapping[str, Any]],
                    methods: Sequence[str] = ("rejection", "gradient", "cmaes"), n_models: int = 1000,
                    rejection_budget: int = 20_000, max_evaluations: int = 2_000_000, seed: int = 0,
                    condition: int | None = None) -> list[dict[str, Any]]:
    """Run every method on every target; hit rates are recomputed from the returned ln Km by a fresh core."""
    evaluator = PropertyEvaluator(physiology)
    rows = []
    for target_config in targets:
        target = parse_target(target_config, evaluator)
        for method in methods:
            problem = LatentProblem(generator, evaluator, target, condition=condition)
            if method == "rejection":
                result = rejection_search(problem, n_models, rejection_budget, seed=seed)
            elif method == "gradient":
                result = gradient_search(problem, n_models, int(1.3 * n_models), steps=300, seed=seed,
                                         max_evaluations=max_evaluations)
            elif method == "cmaes":
                result = cmaes_search(problem, n_models, max_evaluations, seed=seed)
            else:
                raise ValueError(f"unknown method {method!r}")
            check = recheck(physiology, target, result.ln_km)
            n_distinct = len(np.unique(np.round(result.ln_km, 6), axis=0)) if result.n_found else 0
            rows.append({"target": target.describe(), "method": method, "n_returned": result.n_found,
                         "n_distinct": n_distinct, "hit_rate": float(check.satisfied.mean()) if result.n_found else 0.0,
                         "n_hits": int(check.satisfied.sum()), "evaluations": result.evaluations,
                         "evaluations_per_hit": result.evaluations / max(int(check.satisfied.sum()), 1),
                         "diversity": mean_pairwise_distance(result.ln_km), "wall_seconds": result.wall_seconds})
    return rows


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows as a Markdown table (floats with 3–4 significant digits)."""
    if not rows:
        return ""
    columns = list(rows[0])
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)
