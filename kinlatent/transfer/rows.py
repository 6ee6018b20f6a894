"""One study row end to end (a Ray task): start generator → incidence before → method → incidence after →
a validated ensemble. Returns plain data (weights as a state_dict) for the driver to write and log."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kinlatent.generators.evaluation import incidence
from kinlatent.generators.mlp import MLPGenerator
from kinlatent.physiology import Physiology
from kinlatent.transfer.generator_ops import generated_lambda_max
from kinlatent.transfer.methods import TransferTask, apply_method, start_generator

EVAL_SEED_OFFSET = 104_729   # generated-set seed of the incidence checks: the same z for before and after


@dataclass(frozen=True)
class RowResult:
    """What a finished row reports; ``ensemble_*`` are the generated sets of the incidence-after check."""

    metrics: dict[str, float]
    status: str
    spec: dict[str, Any]                      # the transferred generator's architecture (GeneratorSpec dict)
    state_dict: dict[str, torch.Tensor]
    lower: list[float]
    upper: list[float]
    ensemble_ln_km: np.ndarray
    ensemble_lambda_max: np.ndarray
    ensemble_status: np.ndarray
    ensemble_valid: np.ndarray
    eval_seed: int


def run_row(source: MLPGenerator, physiology: Physiology, task: TransferTask, eval_sets: int,
            km_shift: np.ndarray) -> RowResult:
    """Apply one transfer method to the (unconditional) source generator for ``physiology`` (``km_shift``: Δ ln x
    of each Km site's reactant from the source to this physiology)."""
    from kinlatent.generators.sampling import generate_ln_km
    from kinlatent.latent.ensemble import mean_pairwise_distance
    from kinlatent.sampling.validation import validate

    torch.set_num_threads(1)
    oracle = physiology.oracle()
    eval_seed = EVAL_SEED_OFFSET + task.seed
    started = time.perf_counter()
    start = start_generator(source, physiology, task, km_shift)
    before = incidence(generated_lambda_max(start, oracle, eval_sets, eval_seed), task.threshold)
    outcome = apply_method(start, physiology, task)
    seconds = time.perf_counter() - started
    generator = outcome.generator.eval()
    ln_km = torch.cat(list(generate_ln_km(generator, eval_sets, seed=eval_seed))).numpy()
    checked = validate(oracle, ln_km, task.threshold)
    lam = checked.lambda_max
    metrics = {"transfer/incidence_before": before, "transfer/incidence_after": float(checked.valid.mean()),
               "transfer/evaluations": float(outcome.evaluations), "transfer/wall_seconds": seconds,
               "transfer/lambda_max_median": float(np.nanmedian(lam)),
               "transfer/diversity": mean_pairwise_distance(ln_km, max_rows=1000)}
    metrics.update({f"transfer/{k}": float(v) for k, v in outcome.details.items()})
    return RowResult(metrics, outcome.status, generator.spec.to_dict(),
                     {k: v.detach().clone() for k, v in generator.state_dict().items()},
                     generator.lower.tolist(), generator.upper.tolist(), ln_km, lam, checked.status, checked.valid,
                     eval_seed)
