"""The reference kinetic parameterisation: Km from enzyme saturations, vmax from v(x*) = v*, stable by choice.

Every binding site first gets saturation σ = 0.5, i.e. Km = x* of its reactant (ORACLE: Km = x*(1 − σ)/σ).
vmax then follows from the rate law so that it gives exactly v* at x* (:meth:`OracleStability.vmax`). If that
parameter set is not locally stable (λmax of the reduced Jacobian ≥ 0) or not consistent, saturations are
drawn uniformly in (0, 1) from a stream seeded by the build seed, in batches, and the first stable,
consistent draw is taken: the choice is deterministic in the seed. :attr:`ReferenceParameters.draw` records
which draw was taken (−1: all σ = 0.5).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch

from kinlatent.exceptions import SteadyStateError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.stability.oracle import OracleStability

logger = logging.getLogger(__name__)

SATURATION_STREAM = 3
REFERENCE_SATURATION = 0.5
BATCH = 256
MAX_BATCHES = 40


@dataclass(frozen=True)
class ReferenceParameters:
    """Km and vmax by SKiMpy parameter name, the saturations behind them and the resulting λmax (1/h)."""

    km: Mapping[str, float]
    vmax: Mapping[str, float]
    saturations: Mapping[str, float]
    lambda_max: float
    draw: int

    def values(self) -> dict[str, float]:
        return {**self.km, **self.vmax}


def km_slot_concentrations(model: KineticModel, concentrations: np.ndarray) -> np.ndarray:
    """Concentration (µM) of the reactant bound at each Km site, in ``model.km_parameter_names`` order."""
    return np.array([concentrations[model.species_index[species]] for species in model.km_species])


def _ln_km(ln_x: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    return ln_x + np.log1p(-sigma) - np.log(sigma)


def reference_parameters(model: KineticModel, concentrations: np.ndarray, fluxes: np.ndarray,
                         seed: int) -> ReferenceParameters:
    """Km, vmax of ``model`` (whose Km and vmax may be null) around (x*, v*): stable, deterministic in ``seed``."""
    oracle = OracleStability(model, concentrations, fluxes)
    ln_x = np.log(km_slot_concentrations(model, concentrations))
    rng = np.random.default_rng([seed, SATURATION_STREAM])
    for attempt in range(MAX_BATCHES + 1):
        if attempt == 0:
            candidates = np.full((1, oracle.n_km), REFERENCE_SATURATION)
        else:
            candidates = np.clip(rng.random((BATCH, oracle.n_km)), 1e-6, 1 - 1e-6)
        with torch.no_grad():
            result = oracle.evaluate(torch.as_tensor(_ln_km(ln_x, candidates)))
        lam = result.lambda_max.numpy()
        ok = result.consistent.numpy() & np.isfinite(lam) & (lam < 0)
        if not ok.any():
            if attempt == 0:
                logger.info("all saturations 0.5 give λmax = %.4g 1/h: drawing saturations (seed %d)", lam[0],
                            seed)
            continue
        row = int(np.flatnonzero(ok)[0])
        draw = -1 if attempt == 0 else (attempt - 1) * BATCH + row
        sigma = candidates[row]
        ln_km = _ln_km(ln_x, sigma)
        vmax = result.vmax[row].numpy()
        logger.info("reference parameterisation: λmax = %.4g 1/h (%s)", lam[row],
                    "all saturations 0.5" if draw < 0 else f"saturation draw {draw}")
        names = oracle.km_names
        return ReferenceParameters(
            km={n: float(math.exp(v)) for n, v in zip(names, ln_km)},
            vmax={r.parameter("vmax_forward"): float(v) for r, v in zip(model.reactions, vmax)},
            saturations={n: float(s) for n, s in zip(names, sigma)},
            lambda_max=float(lam[row]),
            draw=draw,
        )
    raise SteadyStateError(f"no stable parameterisation among {MAX_BATCHES * BATCH} saturation draws",
                           source=model.source, key="reference_parameters")
