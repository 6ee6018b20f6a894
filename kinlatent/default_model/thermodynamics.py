"""A synthetic thermodynamic state: concentrations and displacements consistent with the pFBA fluxes.

- Concentrations (µM) of every species, ODE and boundary alike, are drawn log-uniformly in
  [``concentration_low``, ``concentration_high``] (default 1 µM … 10 mM), from a stream seeded by ``seed``.
- Every reaction with a reversible rate law gets a displacement from equilibrium Γ = Q/K'eq
  (Q = Π x_i^ν_i over its net stoichiometry) whose side of 1 agrees with its flux: ln Γ is drawn uniformly
  in [ln ``displacement_low``, ln ``displacement_high``] (default Γ ∈ [0.01, 0.9], i.e. ΔG'/RT = ln Γ
  between −4.6 and −0.1) for forward flux, and Γ is inverted for backward flux. Reactions that cobra
  declares irreversible (modelled with reversible laws under policy ``"far_from_equilibrium"``) are drawn
  far from equilibrium instead, Γ ∈ [``irreversible_low``, ``irreversible_high``] (default [1e-4, 1e-2],
  ΔG'/RT between −9.2 and −4.6). Then K'eq = Q/Γ, so the second law holds at the reference state:
  Γ < 1 ⇔ v > 0. Reactions with irreversible rate laws get no K'eq (their rate laws have none).
- Displacements can be drawn independently because the kept reactions contain no stoichiometric cycle
  (checked by :func:`kinlatent.default_model.network.select_network`): then one chemical potential per species
  reproduces every K'eq, and Wegscheider's loop law holds.

This is a *synthetic* state: the network and the fluxes are real (E. coli core, pFBA), the concentrations
and equilibrium constants are not measurements.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

import numpy as np

from kinlatent.default_model.network import CoreNetwork, NetworkReaction
from kinlatent.default_model.fluxes import SOURCE
from kinlatent.exceptions import ConfigError, ModelFormatError

logger = logging.getLogger(__name__)

# independent random streams derived from the build seed (numpy SeedSequence entropy [seed, stream])
CONCENTRATION_STREAM = 1
DISPLACEMENT_STREAM = 2


@dataclass(frozen=True)
class ThermodynamicConfig:
    """Bounds of the sampled concentrations (µM) and of the displacement Γ of forward-running reactions."""

    concentration_low: float = 1.0
    concentration_high: float = 1.0e4
    displacement_low: float = 0.01
    displacement_high: float = 0.9
    irreversible_low: float = 1e-4
    irreversible_high: float = 1e-2

    def __post_init__(self) -> None:
        if not (0 < self.concentration_low < self.concentration_high and math.isfinite(self.concentration_high)):
            raise ConfigError(f"need 0 < concentration_low < concentration_high < inf, got "
                              f"{self.concentration_low}, {self.concentration_high}", key="concentration")
        for kind in ("displacement", "irreversible"):
            low, high = getattr(self, f"{kind}_low"), getattr(self, f"{kind}_high")
            if not (0 < low < high < 1):
                raise ConfigError(f"need 0 < {kind}_low < {kind}_high < 1, got {low}, {high}", key=kind)


@dataclass(frozen=True)
class ThermodynamicState:
    """Concentrations (µM) of all species; Γ and K'eq of the reactions with reversible rate laws."""

    concentrations: Mapping[str, float]
    displacements: Mapping[str, float]
    equilibrium_constants: Mapping[str, float]
    config: ThermodynamicConfig = field(default_factory=ThermodynamicConfig)


def reaction_quotient(stoichiometry: Iterable[tuple[str, float]], concentrations: Mapping[str, float]) -> float:
    """Q = Π x_i^ν_i over a net stoichiometry (ν < 0 for substrates), concentrations in µM."""
    return math.exp(sum(coefficient * math.log(concentrations[name]) for name, coefficient in stoichiometry))


def sample_concentrations(species: tuple[str, ...], seed: int, config: ThermodynamicConfig) -> dict[str, float]:
    """Log-uniform concentrations (µM), one draw per species in the given (sorted) order."""
    rng = np.random.default_rng([seed, CONCENTRATION_STREAM])
    log_x = rng.uniform(math.log(config.concentration_low), math.log(config.concentration_high), len(species))
    return {name: float(math.exp(value)) for name, value in zip(species, log_x)}


def sample_displacement(reaction: NetworkReaction, u: float, config: ThermodynamicConfig) -> float:
    """Γ for a uniform number ``u`` ∈ [0, 1): log-uniform in the forward range (the far-from-equilibrium one
    for cobra-irreversible reactions), inverted for backward flux."""
    if reaction.reversible:
        low, high = math.log(config.displacement_low), math.log(config.displacement_high)
    else:
        low, high = math.log(config.irreversible_low), math.log(config.irreversible_high)
    log_gamma = low + (high - low) * u
    return math.exp(log_gamma if reaction.flux > 0 else -log_gamma)


def sample_state(network: CoreNetwork, seed: int, config: ThermodynamicConfig | None = None) -> ThermodynamicState:
    """Concentrations for all species of ``network``; Γ, K'eq for its reactions with reversible rate laws."""
    config = config or ThermodynamicConfig()
    if network.thermodynamic_cycles:
        raise ModelFormatError(
            f"the kept reactions contain {network.thermodynamic_cycles} stoichiometric cycle(s): independent "
            "displacements would break Wegscheider's loop law", source=SOURCE, key="thermodynamics")
    concentrations = sample_concentrations(network.species, seed, config)
    rng = np.random.default_rng([seed, DISPLACEMENT_STREAM])
    uniforms = rng.random(len(network.reactions))
    displacements: dict[str, float] = {}
    equilibrium: dict[str, float] = {}
    for reaction, u in zip(network.reactions, uniforms):
        if reaction.irreversible_rate_law:
            continue
        gamma = sample_displacement(reaction, float(u), config)
        displacements[reaction.name] = gamma
        equilibrium[reaction.name] = reaction_quotient(reaction.stoichiometry, concentrations) / gamma
    logger.debug("sampled %d concentrations and %d displacements (seed %d)", len(concentrations),
                 len(displacements), seed)
    return ThermodynamicState(concentrations, displacements, equilibrium, config)
