"""Assemble the embedded default model: cobra network + pFBA fluxes + synthetic thermodynamic state → SKiMpy YAML.

The model is a real network with a synthetic thermodynamic state. Its stoichiometry and reference fluxes are
those of cobra's bundled E. coli core model (``textbook``: glycolysis, pentose phosphate pathway, TCA cycle,
oxidative phosphorylation, biomass) at the parsimonious-FBA optimum of aerobic growth on glucose; its
metabolite concentrations, equilibrium constants and kinetic parameters are *sampled*, not measured:
concentrations log-uniformly in 1 µM – 10 mM, displacements from equilibrium Γ = Q/K'eq in [0.01, 0.9] on
the side of 1 that each flux requires (far from equilibrium, Γ in [1e-4, 1e-2], for reactions cobra declares
irreversible), Michaelis constants from enzyme saturations (all 0.5 when that gives a stable model, else the
first stable seeded draw) and vmax so that the rate laws reproduce the pFBA fluxes exactly. It is a
self-contained test bed that ships with the installed dependencies, not a quantitative model of E. coli.
Everything is deterministic in the seed (default 0).

The model is built as the dict layer of a SKiMpy YAML file (the layout of the published SKiMpy models:
``boundary_conditions``, ``compartments``, ``constraints``, ``dependent_reactants``, ``initial_conditions``,
``name``, ``parameters``, ``reactants``, ``reactions``), dumped to text once and read back with
:func:`kinlatent.model.model_from_dict`, so that the in-memory model is exactly what the file holds.
``initial_conditions`` records the reference concentrations of the ODE species (SKiMpy reads them as the
model's initial state).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import numpy as np
import yaml

from kinlatent.default_model.fluxes import SOURCE, load_core_network, parsimonious_fluxes
from kinlatent.default_model.mechanisms import reaction_entry
from kinlatent.default_model.network import FAR_FROM_EQUILIBRIUM, CoreNetwork, select_network
from kinlatent.default_model.parameters import ReferenceParameters, reference_parameters
from kinlatent.default_model.thermodynamics import ThermodynamicConfig, ThermodynamicState, sample_state
from kinlatent.exceptions import ConfigError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.model.skimpy_yaml import model_from_dict
from kinlatent.physiology import Physiology

logger = logging.getLogger(__name__)

MODEL_NAME = "ecoli_core"
CELL_VOLUME = 1.0


@dataclass(frozen=True)
class DefaultModel:
    """The built model, its reference physiology (x*, v*), and how they were made."""

    model: KineticModel
    physiology: Physiology
    network: CoreNetwork
    thermodynamics: ThermodynamicState
    reference: ReferenceParameters
    yaml_text: str
    seed: int
    build_seconds: float

    def state_rows(self) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
        """(species, µM) for every species and (reaction, µM/h) for every reaction, in model order."""
        species = list(zip(self.model.species, self.physiology.concentrations.tolist()))
        fluxes = list(zip(self.model.reaction_names, self.physiology.fluxes.tolist()))
        return species, fluxes


class _Dumper(yaml.SafeDumper):
    """SafeDumper without anchors/aliases (repeated sub-mappings are written out in full)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_document(document: Mapping[str, Any], header: str = "") -> str:
    """YAML text of a model document: sorted keys, block style, floats written exactly (repr)."""
    body = yaml.dump(dict(document), Dumper=_Dumper, sort_keys=True, default_flow_style=False, allow_unicode=False,
                     width=120)
    comment = "".join(f"# {line}\n".replace("# \n", "#\n") for line in header.splitlines())
    return comment + body


def _document(network: CoreNetwork, thermodynamics: ThermodynamicState, parameters: Mapping[str, float | None],
              dependent: tuple[str, ...]) -> dict[str, Any]:
    x = thermodynamics.concentrations
    reactants = {s: {"compartment": network.compartments[s], "name": s} for s in network.species}
    compartments = sorted(set(network.compartments.values()))
    values: dict[str, float | None] = {f"cell_volume_{c}": CELL_VOLUME for c in compartments}
    values.update({s: x[s] for s in network.boundary_species})
    values.update(parameters)
    return {
        "boundary_conditions": {f"CC_{s}": {"class": "ConstantConcentration", "reactant": s}
                                for s in network.boundary_species},
        "compartments": {c: c for c in compartments},
        "constraints": {},
        "dependent_reactants": {s: {"compartment": network.compartments[s], "name": s} for s in dependent},
        "initial_conditions": {s: x[s] for s in network.ode_species},
        "name": MODEL_NAME,
        "parameters": values,
        "reactants": reactants,
        "reactions": {r.name: reaction_entry(r) for r in network.reactions},
    }


def _read_back(text: str, source: str) -> KineticModel:
    return model_from_dict(yaml.safe_load(text), source=source)


def _header(network: CoreNetwork, thermodynamics: ThermodynamicState, reference: ReferenceParameters,
            seed: int) -> str:
    config = thermodynamics.config
    saturations = "all enzyme saturations 0.5" if reference.draw < 0 else \
        f"enzyme saturations: draw {reference.draw} of the seeded stream (the first stable one)"
    return "\n".join([
        f"{MODEL_NAME}: kinetic model of E. coli core metabolism built by kinlatent.default_model (seed {seed}).",
        f"Real network, synthetic thermodynamic state. Network and fluxes: {SOURCE}, cobra {network.cobra_version},",
        f"parsimonious FBA (growth {network.growth_rate:.6g} 1/h), fluxes in uM/h (mmol/gDW/h * 3.6e5).",
        f"Sampled: concentrations log-uniform in [{config.concentration_low:g}, {config.concentration_high:g}] uM; "
        f"displacements Gamma = Q/Keq in [{config.displacement_low:g}, {config.displacement_high:g}] "
        f"(cobra-irreversible: [{config.irreversible_low:g}, {config.irreversible_high:g}]; inverted for "
        "backward flux);",
        f"rate laws of cobra-irreversible reactions: {network.irreversible}; biomass and ATPM: "
        "IrrevMichaelisMenten;",
        f"{saturations}; vmax so that v(x*) = v*. Reference lambda_max = {reference.lambda_max:.6g} 1/h.",
        "initial_conditions hold the reference steady state (uM) of the ODE species.",
    ])


def build_default_model(seed: int = 0, irreversible: str = FAR_FROM_EQUILIBRIUM,
                        config: ThermodynamicConfig | None = None) -> DefaultModel:
    """Build the embedded default model for ``seed`` (deterministic; a few seconds, most of it importing cobra).

    ``irreversible`` chooses the rate laws of cobra-irreversible reactions (see :mod:`.network`);
    ``config`` the sampling ranges of the thermodynamic state (see :mod:`.thermodynamics`).
    The result is cached per arguments in the process: treat it as read-only.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}", key="seed")
    return _build(seed, irreversible, config or ThermodynamicConfig())


@lru_cache(maxsize=4)
def _build(seed: int, irreversible: str, config: ThermodynamicConfig) -> DefaultModel:
    started = time.perf_counter()
    cobra_model = load_core_network()
    network = select_network(cobra_model, parsimonious_fluxes(cobra_model), irreversible)
    thermodynamics = sample_state(network, seed, config)
    source = f"builtin:{MODEL_NAME}"

    # 1. structure, K'eq and boundary concentrations; Km and vmax not yet defined
    skeleton_parameters: dict[str, float | None] = {}
    for reaction in network.reactions:
        if reaction.name in thermodynamics.equilibrium_constants:
            skeleton_parameters[f"k_equilibrium_{reaction.name}"] = thermodynamics.equilibrium_constants[reaction.name]
    skeleton = model_from_dict(_document(network, thermodynamics, skeleton_parameters, ()), source=source)
    concentrations = np.array([thermodynamics.concentrations[s] for s in skeleton.species])
    flux_of = {r.name: r.flux for r in network.reactions}
    fluxes = np.array([flux_of[r] for r in skeleton.reaction_names])

    # 2. Km from saturations, vmax from v(x*) = v*, stable
    reference = reference_parameters(skeleton, concentrations, fluxes, seed)
    parameters = {**skeleton_parameters, **reference.values()}
    dependent = tuple(skeleton.ode_species[i] for i in skeleton.conservation.dependent)
    document = _document(network, thermodynamics, parameters, dependent)
    text = dump_document(document, _header(network, thermodynamics, reference, seed))

    # 3. the model is what the file holds
    model = _read_back(text, source)
    x_all = np.array([thermodynamics.concentrations[s] for s in model.species])
    v_all = np.array([flux_of[r] for r in model.reaction_names])
    physiology = Physiology(model, x_all, v_all, label=f"{MODEL_NAME} synthetic reference state (seed {seed})")
    elapsed = time.perf_counter() - started
    logger.info("built %s (seed %d) in %.2f s: %d reactions, %d ODE species, λmax %.4g 1/h", MODEL_NAME, seed,
                elapsed, model.n_reactions, len(model.ode_species), reference.lambda_max)
    return DefaultModel(model, physiology, network, thermodynamics, reference, text, seed, elapsed)


def default_physiology(seed: int = 0) -> Physiology:
    """The reference physiology (x*, v*) of the embedded default model: what ORACLE sampling works around."""
    return build_default_model(seed).physiology
