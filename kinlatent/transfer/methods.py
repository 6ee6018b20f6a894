"""Transfer methods: each turns the source generator into a generator for a target physiology.

All methods work on the unconditional form of the source generator (a GAN's valid class folded into its first
layer) and spend a budget of λmax evaluations at the target physiology. The fine-tuning and latent methods start
from the saturation-preserving form of the source (``reuse: saturation``, the default) or from its raw ln Km
(``reuse: km``):

- ``direct``: the source generator's ln Km as they are (the baseline); budget 0.
- ``direct_saturation``: the source generator with every set moved to the target's concentrations so that each
  enzyme keeps its saturation x/(x + Km) (ln Km + Δ ln x of the site's reactant); budget 0.
- ``gan_finetune`` / ``gan_scratch``: ``budget`` ORACLE samples of the target, labelled by the threshold; the
  valid ones are the real data of an adversarial fine-tuning of the source weights (fresh discriminator) /
  of a fresh REKINDLE-size generator.
- ``nes_finetune`` / ``nes_scratch``: ``budget`` NES generations at the target, warm-started from the source
  weights / from a random initialisation of the same architecture.
- ``latent_retarget``: weights kept; the latent search (rejection or CMA-ES, ``budget`` evaluations) finds
  latent points valid at the target and a Gaussian fitted to them becomes the generator's new latent prior.
"""
from __future__ import annotations

import copy
import logging
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
import torch

from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
from kinlatent.physiology import Physiology
from kinlatent.transfer.generator_ops import fit_latent_prior, shifted, with_latent_prior

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TransferTask:
    """One method applied with one budget and seed: what a Ray task receives."""

    method: str
    budget: int
    seed: int
    threshold: float
    settings: Mapping[str, Any] = field(default_factory=dict)   # the study's settings.<family> section
    reuse: str = "saturation"                                    # saturation | km: how the source is started from


@dataclass
class MethodOutcome:
    """The transferred generator and what it cost; ``status`` is ``ok`` or why the method could not run."""

    generator: MLPGenerator
    evaluations: int
    status: str = "ok"
    details: dict[str, float] = field(default_factory=dict)


def _nes(generator: MLPGenerator, physiology: Physiology, task: TransferTask) -> MethodOutcome:
    from kinlatent.generators.nes import NESConfig, NESTrainer

    s = task.settings
    config = NESConfig(generations=task.budget, population=int(s.get("population", 20)),
                       sigma=float(s.get("sigma", 0.01)), lr=float(s.get("lr", 1e-3)),
                       lr_decay=float(s.get("lr_decay", 0.95)), sets_per_member=int(s.get("sets_per_member", 100)),
                       reward_mode=str(s.get("reward_mode", "incidence")), threshold=task.threshold, eval_every=0,
                       workers=1, seed=task.seed)
    trainer = NESTrainer(generator, physiology, config, use_ray=False)
    rewards = [trainer.step()["train/reward"] for _ in range(task.budget)]
    torch.nn.utils.vector_to_parameters(trainer.theta.detach(), generator.parameters())
    return MethodOutcome(generator.eval(), task.budget * config.population * config.sets_per_member,
                         details={"final_reward": float(rewards[-1])})


def _target_samples(physiology: Physiology, task: TransferTask) -> tuple[np.ndarray, np.ndarray]:
    """``budget`` ORACLE sets of the target and their valid mask."""
    from kinlatent.sampling.saturation import SaturationSampler
    from kinlatent.sampling.validation import validate

    ln_km = SaturationSampler(physiology).sample(0, task.budget, seed=task.seed)
    return ln_km, validate(physiology.oracle(), ln_km, task.threshold).valid


def _gan(generator: MLPGenerator, physiology: Physiology, task: TransferTask) -> MethodOutcome:
    """Adversarial training of ``generator`` (fresh discriminator) on the valid ORACLE sets of the target."""
    from kinlatent.generators.gan import ConditionalGANTrainer, GANConfig

    s = task.settings
    ln_km, valid = _target_samples(physiology, task)
    n_valid = int(valid.sum())
    details = {"n_samples": float(task.budget), "n_valid_samples": float(n_valid)}
    if n_valid < 2:
        return MethodOutcome(generator, task.budget, status=f"{n_valid} valid target sample(s): nothing to learn",
                             details=details)
    batch_size = min(int(s.get("batch_size", 256)), n_valid)
    config = GANConfig(epochs=max(1, int(s.get("steps", 400)) // math.ceil(n_valid / batch_size)),
                       batch_size=batch_size, lr=float(s.get("lr", 2e-4)), beta1=float(s.get("beta1", 0.5)),
                       discriminator_widths=tuple(s.get("discriminator_widths", (32, 64, 128))),
                       discriminator_dropout=float(s.get("discriminator_dropout", 0.0)),
                       discriminator_lr=float(s.get("discriminator_lr", 1e-3)), seed=task.seed)
    trainer = ConditionalGANTrainer(generator, ln_km[valid], np.ones(n_valid, dtype=np.int64), config)
    details["final_loss_g"] = trainer.train()[-1]["train/loss_g"]
    return MethodOutcome(trainer.output_generator.eval(), task.budget, details=details)


def _latent(generator: MLPGenerator, physiology: Physiology, task: TransferTask) -> MethodOutcome:
    """Latent points valid at the target (the exploration's latent search) → a fitted Gaussian latent prior."""
    from kinlatent.latent.properties import PropertyEvaluator
    from kinlatent.latent.search import LatentProblem, cmaes_search, rejection_search
    from kinlatent.latent.targets import parse_target

    s = task.settings
    evaluator = PropertyEvaluator(physiology)
    target = parse_target({"name": "valid", "windows": {"lambda_max": [None, task.threshold]}, "margin": 0.0},
                          evaluator)
    problem = LatentProblem(copy.deepcopy(generator), evaluator, target)
    n_wanted = int(s.get("hits", 1000))
    if s.get("search", "rejection") == "cmaes":
        found = cmaes_search(problem, n_wanted, task.budget, population=int(s.get("population", 64)),
                             sigma=float(s.get("sigma", 0.5)), seed=task.seed)
    else:
        found = rejection_search(problem, n_wanted, task.budget, batch_size=min(2048, task.budget), seed=task.seed)
    details = {"latent_hits": float(found.n_found)}
    if found.n_found < 2:
        return MethodOutcome(generator, found.evaluations, status=f"{found.n_found} valid latent point(s) found: "
                             "no prior to fit", details=details)
    mean, factor = fit_latent_prior(found.z, shrinkage=float(s.get("shrinkage", 0.1)))
    details["prior_shift"] = float(np.linalg.norm(mean))
    scale = float(s.get("prior_scale", 1.0))  # < 1 concentrates the prior on the found region
    return MethodOutcome(with_latent_prior(generator, mean, scale * factor), found.evaluations, details=details)


def _fresh(generator: MLPGenerator, physiology: Physiology, task: TransferTask, kind: str) -> MLPGenerator:
    """A randomly initialised generator with output bounds of the target's saturations: RENAISSANCE's
    architecture of the source (no normalisation) for NES, REKINDLE's (BatchNorm, dropout) for the GAN."""
    from kinlatent.generators.bounds import saturation_bounds

    torch.manual_seed(task.seed)
    lower, upper = saturation_bounds(physiology, physiology.model.km_parameter_names,
                                     float(task.settings.get("sigma_min", 1e-3)))
    if kind == "nes":
        spec = GeneratorSpec(**{**generator.spec.to_dict(), "widths": tuple(generator.spec.widths),
                                "n_conditions": 0, "normalisation": "none", "dropout": 0.0})
    else:
        spec = GeneratorSpec(n_outputs=len(lower), latent_dim=generator.spec.latent_dim,
                             widths=tuple(task.settings.get("scratch_widths", (128, 256, 512))),
                             normalisation="batch", dropout=float(task.settings.get("dropout", 0.5)))
    return MLPGenerator(spec, lower, upper).eval()


Start = Callable[[MLPGenerator, Physiology, TransferTask, np.ndarray], MLPGenerator]
Train = Callable[[MLPGenerator, Physiology, TransferTask], MethodOutcome]


def _source(generator: MLPGenerator, _physiology: Physiology, task: TransferTask, km_shift: np.ndarray
            ) -> MLPGenerator:
    return shifted(generator, km_shift) if task.reuse == "saturation" else generator


def _unchanged(generator: MLPGenerator, _physiology: Physiology, _task: TransferTask) -> MethodOutcome:
    return MethodOutcome(generator, 0)


METHODS: dict[str, tuple[Start, Train]] = {
    "direct": (lambda g, _p, _t, _s: g, _unchanged),
    "direct_saturation": (lambda g, _p, _t, s: shifted(g, s), _unchanged),
    "gan_finetune": (_source, _gan),
    "gan_scratch": (lambda g, p, t, _s: _fresh(g, p, t, "gan"), _gan),
    "nes_finetune": (_source, _nes),
    "nes_scratch": (lambda g, p, t, _s: _fresh(g, p, t, "nes"), _nes),
    "latent_retarget": (_source, _latent),
}
BUDGETLESS = ("direct", "direct_saturation")
SETTINGS_FAMILY = {"direct": None, "direct_saturation": None, "gan_finetune": "gan", "gan_scratch": "gan",
                   "nes_finetune": "nes", "nes_scratch": "nes", "latent_retarget": "latent"}
BUDGET_MEANING = {"direct": "none", "direct_saturation": "none", "gan_finetune": "target ORACLE samples",
                  "gan_scratch": "target ORACLE samples", "nes_finetune": "NES generations",
                  "nes_scratch": "NES generations", "latent_retarget": "latent-search evaluations"}


def start_generator(generator: MLPGenerator, physiology: Physiology, task: TransferTask, km_shift: np.ndarray
                    ) -> MLPGenerator:
    """The generator ``task.method`` starts from: the source (raw or saturation-preserving, moved by
    ``km_shift`` = Δ ln x of each Km site), or a fresh one (scratch methods)."""
    return METHODS[task.method][0](copy.deepcopy(generator).eval(), physiology, task, km_shift)


def apply_method(start: MLPGenerator, physiology: Physiology, task: TransferTask) -> MethodOutcome:
    """Run ``task.method`` from ``start`` (modified in place)."""
    torch.set_num_threads(1)
    return METHODS[task.method][1](start, physiology, task)
