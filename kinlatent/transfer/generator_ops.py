"""Generator surgery for transfer: fold a fixed condition or a latent prior into the first layer, and measure
a generator's incidence of valid models at a physiology.

Both folds keep the architecture (an :class:`MLPGenerator` with the same widths), so a transferred generator is
saved, logged, loaded and explored like any other.
"""
from __future__ import annotations

import copy

import numpy as np
import torch

from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
from kinlatent.generators.sampling import generate_ln_km
from kinlatent.stability import OracleStability


def _first_linear(generator: MLPGenerator) -> torch.nn.Linear:
    return next(m for m in generator.network if isinstance(m, torch.nn.Linear))


@torch.no_grad()
def unconditional(generator: MLPGenerator, condition: int | None) -> MLPGenerator:
    """A generator without condition input that equals ``generator(z, one_hot(condition))`` (a GAN's valid
    class); an unconditional generator is returned as a copy."""
    result = copy.deepcopy(generator).eval()
    spec = generator.spec
    if not spec.n_conditions:
        return result
    plain = MLPGenerator(GeneratorSpec(**{**spec.to_dict(), "widths": tuple(spec.widths), "n_conditions": 0}),
                         generator.lower, generator.upper)
    state = {k: v.clone() for k, v in generator.state_dict().items()}
    first = _first_linear(generator)
    name = next(k for k, v in generator.named_parameters() if v is first.weight)
    state[name.replace("weight", "bias")] = first.bias + first.weight[:, spec.latent_dim + int(condition or 0)]
    state[name] = first.weight[:, :spec.latent_dim].clone()
    plain.load_state_dict(state)
    return plain.eval()


@torch.no_grad()
def with_latent_prior(generator: MLPGenerator, mean: np.ndarray, factor: np.ndarray) -> MLPGenerator:
    """G'(z) = G(mean + factor · z): a new latent prior N(mean, factor·factorᵀ) folded into the first layer
    (W' = W·factor, b' = b + W·mean). ``generator`` must be unconditional."""
    if generator.spec.n_conditions:
        raise ValueError("fold the condition first (unconditional)")
    result = copy.deepcopy(generator).eval()
    first = _first_linear(result)
    mean_t = torch.as_tensor(mean, dtype=first.weight.dtype)
    factor_t = torch.as_tensor(factor, dtype=first.weight.dtype)
    first.bias.add_(first.weight @ mean_t)
    first.weight.copy_(first.weight @ factor_t)
    return result


@torch.no_grad()
def shifted(generator: MLPGenerator, km_shift: np.ndarray) -> MLPGenerator:
    """A copy whose ln Km output is moved by ``km_shift`` (its bounds shifted): with km_shift = Δ ln x of each
    site's reactant, every generated set keeps its enzyme saturations x/(x + Km) at the new concentrations."""
    result = copy.deepcopy(generator).eval()
    shift = torch.as_tensor(np.array(km_shift, dtype=float), dtype=result.lower.dtype)  # a copy: Ray's are read-only
    if shift.shape != result.lower.shape:
        raise ValueError(f"km_shift must have shape {tuple(result.lower.shape)}, got {tuple(shift.shape)}")
    result.lower.add_(shift)
    result.upper.add_(shift)
    return result


def fit_latent_prior(z: np.ndarray, shrinkage: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and Cholesky factor of a Gaussian fitted to latent points (covariance shrunk towards its diagonal
    mean, so that a few hundred points in 100 dimensions give a well-posed prior)."""
    z = np.asarray(z, dtype=float)
    if z.ndim != 2 or len(z) < 2:
        raise ValueError("need at least 2 latent points to fit a prior")
    mean = z.mean(axis=0)
    covariance = np.cov(z, rowvar=False)
    target = np.eye(z.shape[1]) * float(np.trace(covariance)) / z.shape[1]
    covariance = (1.0 - shrinkage) * covariance + shrinkage * target
    return mean, np.linalg.cholesky(covariance + 1e-9 * np.eye(z.shape[1]))


def generated_lambda_max(generator: MLPGenerator, oracle: OracleStability, n: int, seed: int) -> np.ndarray:
    """λmax (1/h) of ``n`` sets generated with ``seed`` (unconditional generator), at the oracle's physiology."""
    ln_km = torch.cat(list(generate_ln_km(generator, n, seed=seed)))
    with torch.no_grad():
        return oracle.evaluate(ln_km).lambda_max.numpy()
