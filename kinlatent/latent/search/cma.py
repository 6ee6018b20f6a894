"""CMA-ES in latent space (the ``cmaes`` library), with restarts from prior draws for a spread of solutions.

Fitness = 10 · violation + distance to the window centres (so that converged searches sit well inside the
windows) + a small prior term; every evaluated point that satisfies the target is collected. A restart is
triggered when CMA-ES stops or a restart has collected ``hits_per_restart`` points, so the ensemble comes from
several regions of the latent space rather than one converged cloud.
"""
from __future__ import annotations

import time

import numpy as np
import torch

from kinlatent.latent.search.problem import LatentProblem
from kinlatent.latent.search.result import SearchResult, empty_result, merge_results


def cmaes_search(problem: LatentProblem, n_wanted: int, max_evaluations: int, population: int = 64,
                 sigma: float = 0.5, hits_per_restart: int | None = None, prior_weight: float = 1e-3,
                 seed: int = 0) -> SearchResult:
    """Collect up to ``n_wanted`` latent points that satisfy the target within ``max_evaluations``."""
    from cmaes import CMA

    started = time.perf_counter()
    hits_per_restart = hits_per_restart or max(50, n_wanted // 5)
    hits: list[SearchResult] = []
    n_hits, spent, restart = 0, 0, 0
    best_curve: list[float] = []
    while n_hits < n_wanted and spent < max_evaluations:
        mean = problem.prior(1, int(np.random.SeedSequence([seed, restart]).generate_state(1)[0]))[0].numpy()
        optimiser = CMA(mean=mean.astype(float), sigma=sigma, population_size=population,
                        seed=int(np.random.SeedSequence([seed, restart, 1]).generate_state(1)[0] % 2**31))
        restart += 1
        restart_hits = 0
        while n_hits < n_wanted and spent < max_evaluations and restart_hits < hits_per_restart:
            candidates = np.stack([optimiser.ask() for _ in range(optimiser.population_size)])
            with torch.no_grad():
                ln_km, assessment = problem.assess(torch.as_tensor(candidates, dtype=torch.float32))
            spent += len(candidates)
            violation = assessment.violation.numpy()
            centre = assessment.centre.numpy()
            fitness = 10.0 * violation + np.minimum(centre, 10.0) + prior_weight * (candidates ** 2).sum(axis=1)
            optimiser.tell(list(zip(candidates, fitness.tolist())))
            best_curve.append(float(fitness.min()))
            rows = np.flatnonzero(assessment.satisfied.numpy())
            if len(rows):
                hits.append(SearchResult("cmaes", candidates[rows].astype(np.float32), ln_km.numpy()[rows],
                                         {k: v.numpy()[rows] for k, v in assessment.values.items()}, 0, 0.0))
                n_hits += len(rows)
                restart_hits += len(rows)
            if optimiser.should_stop():
                break
    if hits:
        result = merge_results(hits, limit=n_wanted)
    else:
        result = empty_result("cmaes", problem.latent_dim, problem.evaluator.oracle.n_km,
                              [p.text for p in problem.target.properties])
    result.evaluations = spent
    result.wall_seconds = time.perf_counter() - started
    result.trace = {"restarts": restart, "best_fitness": best_curve}
    return result
