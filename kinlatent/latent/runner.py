"""One search unit: a search method run with its own seed and share of the work (a Ray task in the job).

Units are independent (different seeds, hence different starting points and restarts), so a cluster runs
them side by side and the job merges and de-duplicates their results.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from kinlatent.exceptions import ConfigError
from kinlatent.generators.card import GeneratorCard, build_generator
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.search import (LatentProblem, SearchResult, cmaes_search, direction_search, gradient_search,
                                     rejection_search)
from kinlatent.latent.targets import parse_target
from kinlatent.physiology import Physiology

METHODS = ("rejection", "gradient", "cmaes", "direction")
_KEYS = {
    "rejection": {"method", "max_evaluations", "batch_size"},
    "gradient": {"method", "max_evaluations", "chains_factor", "steps", "lr", "prior_weight"},
    "cmaes": {"method", "max_evaluations", "population", "sigma", "hits_per_restart", "prior_weight"},
    "direction": {"method", "max_evaluations", "probe_samples", "steps", "max_step", "starts"},
}


@dataclass(frozen=True)
class SearchUnit:
    """What one unit does: method settings, its share of the wanted models and budget, and its seed."""

    search: Mapping[str, Any]
    target: Mapping[str, Any]
    n_wanted: int
    max_evaluations: int
    seed: int


def _number(search: Mapping[str, Any], key: str, default: float, integer: bool = False, positive: bool = True
            ) -> float:
    value = search.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if ok and positive:
        ok = value > 0
    if not ok:
        kind = "a positive integer" if integer else "a positive number" if positive else "a number"
        raise ConfigError(f"must be {kind}, got {value!r}", key=f"search.{key}")
    return int(value) if integer else float(value)


def check_search(search: Mapping[str, Any]) -> str:
    """Validate the search section before any work starts; returns the method."""
    method = search.get("method")
    if method not in METHODS:
        raise ConfigError(f"unknown search method {method!r}; valid: {', '.join(METHODS)}", key="search.method")
    unknown = sorted(set(search) - _KEYS[method])
    if unknown:
        raise ConfigError(f"unknown setting(s) for {method}: {unknown}; valid: {sorted(_KEYS[method])}",
                          key=f"search.{unknown[0]}")
    defaults = {"max_evaluations": 1, "batch_size": 1, "chains_factor": 1, "steps": 1, "lr": 1,
                "prior_weight": 0, "population": 1, "sigma": 1, "probe_samples": 1, "max_step": 1, "starts": 1}
    integers = {"max_evaluations", "batch_size", "steps", "population", "hits_per_restart", "probe_samples", "starts"}
    for key in search:
        if key == "method" or (key == "hits_per_restart" and search[key] is None):
            continue
        _number(search, key, defaults.get(key, 1), integer=key in integers, positive=key != "prior_weight")
    return str(method)


def run_unit(physiology: Physiology, card: GeneratorCard, state_dict: Mapping[str, torch.Tensor],
             unit: SearchUnit) -> SearchResult:
    """Build the problem in this process and run the configured method."""
    torch.set_num_threads(1)
    generator = build_generator(card)
    generator.load_state_dict(dict(state_dict))
    evaluator = PropertyEvaluator(physiology)
    target = parse_target(unit.target, evaluator)
    problem = LatentProblem(generator, evaluator, target, condition=card.valid_condition)
    search = unit.search
    method = search["method"]
    if method == "rejection":
        return rejection_search(problem, unit.n_wanted, unit.max_evaluations,
                                batch_size=int(search.get("batch_size", 2048)), seed=unit.seed)
    if method == "gradient":
        chains = max(1, math.ceil(float(search.get("chains_factor", 1.3)) * unit.n_wanted))
        return gradient_search(problem, unit.n_wanted, chains, steps=int(search.get("steps", 200)),
                               lr=float(search.get("lr", 0.05)), prior_weight=float(search.get("prior_weight", 1e-3)),
                               seed=unit.seed, max_evaluations=unit.max_evaluations)
    if method == "cmaes":
        return cmaes_search(problem, unit.n_wanted, unit.max_evaluations, population=int(search.get("population", 64)),
                            sigma=float(search.get("sigma", 0.5)), hits_per_restart=search.get("hits_per_restart"),
                            prior_weight=float(search.get("prior_weight", 1e-3)), seed=unit.seed)
    import numpy as np

    max_step = float(search.get("max_step", 6.0))
    steps = np.linspace(-max_step, max_step, int(search.get("steps", 25)))
    return direction_search(problem, unit.n_wanted, n_samples=int(search.get("probe_samples", 2000)), steps=steps,
                            n_starts=int(search.get("starts", 500)), seed=unit.seed)
