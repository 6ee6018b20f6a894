"""Rejection sampling from the generator's prior: the baseline every other search is compared with."""
from __future__ import annotations

import time

import numpy as np

from kinlatent.latent.search.problem import LatentProblem
from kinlatent.latent.search.result import SearchResult, merge_results


def rejection_search(problem: LatentProblem, n_wanted: int, max_evaluations: int, batch_size: int = 2048,
                     seed: int = 0) -> SearchResult:
    """Draw z ~ N(0, I) in batches until ``n_wanted`` sets satisfy the target or the budget is spent."""
    started = time.perf_counter()
    found: list[SearchResult] = []
    n_found, batch_index, spent = 0, 0, 0
    while n_found < n_wanted and spent < max_evaluations:
        size = min(batch_size, max_evaluations - spent)
        z = problem.prior(size, int(np.random.SeedSequence([seed, batch_index]).generate_state(1)[0]))
        ln_km, satisfied, _, values = problem.assess_numpy(z)
        spent += size
        batch_index += 1
        rows = np.flatnonzero(satisfied)
        found.append(SearchResult("rejection", z.numpy()[rows], ln_km[rows], {k: v[rows] for k, v in values.items()}, 0, 0.0))
        n_found += len(rows)
    result = merge_results(found, limit=n_wanted)
    result.evaluations = spent
    result.wall_seconds = time.perf_counter() - started
    result.trace = {"prior_hit_rate": sum(r.n_found for r in found) / max(spent, 1)}
    return result

