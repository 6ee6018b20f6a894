"""Which reactions and species of the cobra E. coli core network become the kinetic model.

Rules, applied to the pFBA flux distribution of :mod:`.fluxes`:

- **Exchange reactions** (``EX_*``, cobra's boundary reactions) are dropped. Their extracellular species
  (compartment ``e``) become fixed boundary species (``ConstantConcentration``): the medium is a constant
  environment, so nothing needs to supply or remove them.
- **Protons and water** (``h_c``, ``h_e``, ``h2o_c``, ``h2o_e``) are removed from every reaction: pH, water
  activity and the proton-motive force are taken as constant and absorbed into apparent equilibrium
  constants (for ATP synthase, NADH dehydrogenase, cytochrome oxidase and proton symporters the apparent
  K'eq includes the fixed proton gradient). A reaction left with nothing but protons/water (``H2Ot``) goes.
- **Reactions without flux** at the reference state (|v| < 1e-9 mmol/gDW/h) are dropped: the reference state
  says nothing about their direction or displacement, so they cannot be parameterized around it.
- **The biomass reaction** is kept as an irreversible reaction (``IrrevMichaelisMenten`` on its substrates:
  stoichiometric coefficients and products do not enter the rate law, as in SKiMpy). Its products (adp, pi,
  coa, nadh, nadp, akg) stay in the stoichiometry so that the cofactor pools balance.
- **ATPM** (non-growth ATP maintenance, lower bound 8.39 mmol/gDW/h) is, like the biomass reaction, a
  pseudo-reaction without thermodynamics: both always get irreversible rate laws.
- **Directions.** Reversible reactions are those with lb < 0 < ub in cobra. The other enzymatic and
  transport reactions (PFK, PYK, PPC, CS, PDH, AKGDH, SUCDi, GLCpts, ...) run one way because their ΔG' is
  strongly negative; policy ``irreversible`` says how their rate laws treat that:

  * ``"far_from_equilibrium"`` (default): a reversible rate law like any other reaction, with a displacement
    drawn far from equilibrium (see :mod:`.thermodynamics`). The products then still bind the enzyme (they
    appear in the rate law's denominator: product inhibition), as in SKiMpy's published E. coli models,
    whose PFK, PYK, PPC, ... are reversible laws too. Measured on seed 0: the reference parameterisation with
    all saturations 0.5 is stable and about 3/4 of ORACLE samples have λmax < −2.5 1/h.
  * ``"michaelis_menten"``: ``IrrevMichaelisMenten`` (no product term at all). Without any product
    inhibition the unregulated network is rarely stable: seed 0 needs a redrawn saturation set for a stable
    reference, and only about 1 % of ORACLE samples have λmax < −2.5 1/h (autocatalytic loops such as
    PEP → glucose uptake → PEP and CO2 → PPC → TCA cycle → 2 CO2 are left unchecked).
- Orientation is cobra's: a reversible reaction running backwards keeps its cobra direction and gets a
  negative flux (and a displacement Γ > 1, see :mod:`.thermodynamics`).

Species ids follow the SKiMpy files' conventions: BiGG's ``__`` becomes ``_`` (``glc__D_e`` → ``glc_D_e``) and
an id starting with a digit gets a leading ``_`` (``3pg_c`` → ``_3pg_c``). Fluxes are converted to µM/h with the
factor of models/README.md (· 1e-3 · 0.3 gDW/gWW · 1200 g/L · 1e6 = · 3.6e5).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import numpy as np

from kinlatent.default_model.fluxes import SOURCE, FluxSolution
from kinlatent.exceptions import ConfigError, ModelFormatError
from kinlatent.model.state import FLUX_TO_MICROMOLAR_PER_HOUR

if TYPE_CHECKING:  # pragma: no cover - typing only
    import cobra

logger = logging.getLogger(__name__)

EXCLUDED_METABOLITES: tuple[str, ...] = ("h_c", "h_e", "h2o_c", "h2o_e")
BOUNDARY_COMPARTMENTS: tuple[str, ...] = ("e",)
ZERO_FLUX = 1e-9  # mmol/gDW/h
FAR_FROM_EQUILIBRIUM = "far_from_equilibrium"
MICHAELIS_MENTEN = "michaelis_menten"
IRREVERSIBLE_POLICIES: tuple[str, ...] = (FAR_FROM_EQUILIBRIUM, MICHAELIS_MENTEN)
PSEUDO_REACTIONS: tuple[str, ...] = ("biomass", "maintenance")


@dataclass(frozen=True)
class NetworkReaction:
    """A reaction of the kinetic model: net stoichiometry over kept species, direction and flux (µM/h).

    ``reversible`` is cobra's (lb < 0 < ub); ``irreversible_rate_law`` says whether the rate law has no
    backward term (pseudo-reactions always; cobra-irreversible ones under policy ``"michaelis_menten"``).
    """

    name: str
    stoichiometry: tuple[tuple[str, float], ...]
    reversible: bool
    flux: float
    role: str  # "biomass", "maintenance", "transport" or "enzyme"
    irreversible_rate_law: bool = False

    @property
    def substrates(self) -> tuple[tuple[str, float], ...]:
        return tuple((s, c) for s, c in self.stoichiometry if c < 0)

    @property
    def products(self) -> tuple[tuple[str, float], ...]:
        return tuple((s, c) for s, c in self.stoichiometry if c > 0)


@dataclass(frozen=True)
class CoreNetwork:
    """The kinetic model's network: reactions, species (sorted ids), boundary species and provenance."""

    reactions: tuple[NetworkReaction, ...]
    species: tuple[str, ...]
    boundary_species: tuple[str, ...]
    compartments: Mapping[str, str]
    cobra_ids: Mapping[str, str]
    dropped: Mapping[str, str]
    thermodynamic_cycles: int
    growth_rate: float
    cobra_version: str
    irreversible: str = FAR_FROM_EQUILIBRIUM

    @property
    def ode_species(self) -> tuple[str, ...]:
        boundary = set(self.boundary_species)
        return tuple(s for s in self.species if s not in boundary)

    def stoichiometry_matrix(self, species: tuple[str, ...] | None = None) -> np.ndarray:
        """N over ``species`` (default: all), columns in reaction order."""
        species = self.species if species is None else species
        index = {s: i for i, s in enumerate(species)}
        matrix = np.zeros((len(species), len(self.reactions)))
        for j, reaction in enumerate(self.reactions):
            for name, coefficient in reaction.stoichiometry:
                if name in index:
                    matrix[index[name], j] += coefficient
        return matrix

    @property
    def fluxes(self) -> np.ndarray:
        return np.array([r.flux for r in self.reactions])


def species_id(cobra_id: str) -> str:
    """SKiMpy-style id of a BiGG metabolite id: ``__`` → ``_``; a leading digit gets a leading ``_``."""
    name = cobra_id.replace("__", "_")
    return f"_{name}" if name[:1].isdigit() else name


def _role(reaction: "cobra.Reaction", biomass: str, maintenance: bool, compartments: set[str]) -> str:
    if reaction.id == biomass:
        return "biomass"
    if maintenance:
        return "maintenance"
    return "transport" if len(compartments) > 1 else "enzyme"


def _cycle_dimension(model: "cobra.Model", reactions: list[str]) -> int:
    """Dimension of the null space of the kept reactions' full stoichiometry (protons and water included).

    Zero means no set of kept reactions adds up to nothing, so displacements can be chosen independently
    without breaking Wegscheider's loop law (one chemical potential per species reproduces every K'eq).
    """
    metabolites = sorted({m.id for rid in reactions for m in model.reactions.get_by_id(rid).metabolites})
    index = {m: i for i, m in enumerate(metabolites)}
    matrix = np.zeros((len(metabolites), len(reactions)))
    for j, rid in enumerate(reactions):
        for metabolite, coefficient in model.reactions.get_by_id(rid).metabolites.items():
            matrix[index[metabolite.id], j] = coefficient
    rank = np.linalg.matrix_rank(matrix) if matrix.size else 0
    return len(reactions) - int(rank)


def select_network(model: "cobra.Model", solution: FluxSolution, irreversible: str = FAR_FROM_EQUILIBRIUM,
                   maintenance_reaction: str = "ATPM") -> CoreNetwork:
    """Apply the module's rules to ``model`` at the flux distribution ``solution``."""
    if irreversible not in IRREVERSIBLE_POLICIES:
        raise ConfigError(f"unknown policy for irreversible reactions {irreversible!r}; valid: "
                          f"{', '.join(IRREVERSIBLE_POLICIES)}", key="irreversible")
    excluded = set(EXCLUDED_METABOLITES)
    reactions: list[NetworkReaction] = []
    dropped: dict[str, str] = {}
    compartments: dict[str, str] = {}
    cobra_ids: dict[str, str] = {}
    for reaction in model.reactions:
        flux = solution.fluxes[reaction.id]
        if reaction.boundary:
            dropped[reaction.id] = "exchange reaction: its extracellular species is a fixed boundary species"
            continue
        if abs(flux) < ZERO_FLUX:
            dropped[reaction.id] = "no flux at the reference state"
            continue
        kept = {m: c for m, c in reaction.metabolites.items() if m.id not in excluded}
        if not kept:
            dropped[reaction.id] = "only protons and water"
            continue
        reversible = reaction.lower_bound < 0 < reaction.upper_bound
        if not reversible and flux < 0:
            raise ModelFormatError(f"irreversible reaction carries a negative flux ({flux})", source=SOURCE,
                                   key=reaction.id)
        stoichiometry = []
        for metabolite, coefficient in sorted(kept.items(), key=lambda item: item[0].id):
            name = species_id(metabolite.id)
            if cobra_ids.setdefault(name, metabolite.id) != metabolite.id:
                raise ModelFormatError(f"species id {name!r} is ambiguous ({cobra_ids[name]}, {metabolite.id})",
                                       source=SOURCE, key=metabolite.id)
            compartments[name] = metabolite.compartment
            stoichiometry.append((name, float(coefficient)))
        role = _role(reaction, solution.biomass_reaction, reaction.id == maintenance_reaction,
                     {m.compartment for m in kept})
        reactions.append(NetworkReaction(
            name=reaction.id,
            stoichiometry=tuple(stoichiometry),
            reversible=reversible,
            flux=flux * FLUX_TO_MICROMOLAR_PER_HOUR,
            role=role,
            irreversible_rate_law=role in PSEUDO_REACTIONS or (not reversible and irreversible == MICHAELIS_MENTEN),
        ))
    if solution.biomass_reaction not in {r.name for r in reactions}:
        raise ModelFormatError("the biomass reaction carries no flux", source=SOURCE, key=solution.biomass_reaction)
    species = tuple(sorted(compartments))
    boundary = tuple(s for s in species if compartments[s] in BOUNDARY_COMPARTMENTS)
    cycles = _cycle_dimension(model, [r.name for r in reactions])
    network = CoreNetwork(
        reactions=tuple(reactions), species=species, boundary_species=boundary, compartments=compartments,
        cobra_ids=cobra_ids, dropped=dropped, thermodynamic_cycles=cycles, growth_rate=solution.growth_rate,
        cobra_version=solution.cobra_version, irreversible=irreversible,
    )
    _check_balance(network)
    logger.info("kinetic network: %d reactions (%d dropped), %d ODE species, %d boundary species",
                len(reactions), len(dropped), len(network.ode_species), len(boundary))
    return network


def _check_balance(network: CoreNetwork, tolerance: float = 1e-9) -> None:
    """N v* ≈ 0 over the ODE species (relative to the largest flux term); raise naming the worst species."""
    n = network.stoichiometry_matrix(network.ode_species)
    terms = np.abs(n) * np.abs(network.fluxes)
    residual = np.abs(n @ network.fluxes)
    scale = max(float(terms.max()), 1e-300)
    worst = int(np.argmax(residual))
    if residual[worst] > tolerance * scale:
        raise ModelFormatError(f"flux distribution is not at steady state (|N v| = {residual[worst]:.3g} µM/h)",
                               source=SOURCE, key=network.ode_species[worst])
