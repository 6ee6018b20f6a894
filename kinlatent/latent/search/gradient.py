"""Gradient search: optimise latent points through z → ln Km → J_r → eigenvalues / control coefficients.

Each chain starts from its own prior draw (which keeps the solutions spread) and stops as soon as it
satisfies the target; a small Gaussian prior term keeps z in the region the generator was trained on.
"""
from __future__ import annotations

import time

import torch

from kinlatent.latent.search.problem import LatentProblem
from kinlatent.latent.search.result import SearchResult, empty_result, merge_results


def gradient_search(problem: LatentProblem, n_wanted: int, n_chains: int, steps: int = 200, lr: float = 0.05,
                    prior_weight: float = 1e-3, seed: int = 0, max_evaluations: int | None = None
                    ) -> SearchResult:
    """Adam on the target violation of ``n_chains`` latent points; returns the points that hit the target."""
    started = time.perf_counter()
    z = problem.prior(n_chains, seed).requires_grad_(True)
    optimiser = torch.optim.Adam([z], lr=lr)
    active = torch.ones(n_chains, dtype=torch.bool)
    hits: list[SearchResult] = []
    n_hits, spent, step = 0, 0, 0
    curve = []
    for step in range(steps):
        if n_hits >= n_wanted or not bool(active.any()):
            break
        if max_evaluations is not None and spent >= max_evaluations:
            break
        rows = torch.nonzero(active).squeeze(1)
        z_active = z[rows]
        ln_km, assessment = problem.assess(z_active)
        spent += len(rows)
        loss = assessment.violation.sum() + 0.5 * prior_weight * (z_active ** 2).sum()
        optimiser.zero_grad()
        loss.backward()
        with torch.no_grad():
            bad = ~torch.isfinite(z.grad).all(dim=1)
            z.grad[bad] = 0.0
        satisfied = assessment.satisfied.detach()
        if bool(satisfied.any()):
            keep = torch.nonzero(satisfied).squeeze(1)
            hits.append(SearchResult("gradient", z_active.detach()[keep].numpy().copy(),
                                     ln_km.detach()[keep].numpy(),
                                     {k: v.detach()[keep].numpy() for k, v in assessment.values.items()}, 0, 0.0))
            active[rows[keep]] = False
            n_hits += len(keep)
        curve.append(float(assessment.violation.detach().mean()))
        optimiser.step()
    if not hits:
        result = empty_result("gradient", problem.latent_dim, problem.evaluator.oracle.n_km,
                              [p.text for p in problem.target.properties])
    else:
        result = merge_results(hits, limit=n_wanted)
    result.evaluations = spent
    result.wall_seconds = time.perf_counter() - started
    result.trace = {"steps": step + 1, "mean_violation": curve, "chains": n_chains}
    return result

