"""Steady-state fluxes of cobra's bundled E. coli core network ("textbook") by parsimonious FBA.

The flux distribution is plain pFBA (cobra's ``pfba`` at 100 % of the optimal growth rate, default medium:
glucose 10 mmol/gDW/h, aerobic): it does not depend on any seed, and the LP solver (GLPK's simplex, shipped
with cobra) returns the same basic solution on every run. pFBA picks, among the flux distributions of
maximal growth, the one with the least total flux, so it carries no futile internal cycles.
Fluxes stay in cobra's units here (mmol/gDW/h; the growth rate in 1/h); :mod:`.network` converts them.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Mapping

from kinlatent.exceptions import ModelFormatError

if TYPE_CHECKING:  # pragma: no cover - typing only
    import cobra

logger = logging.getLogger(__name__)

TEXTBOOK = "textbook"
SOURCE = 'cobra.io.load_model("textbook")'


@dataclass(frozen=True)
class FluxSolution:
    """Net flux of every reaction of the cobra model (mmol/gDW/h) at maximal growth, least total flux."""

    fluxes: Mapping[str, float]
    growth_rate: float
    biomass_reaction: str
    cobra_version: str


def cobra_version() -> str:
    """Installed cobra version (read from the package metadata, without importing cobra)."""
    try:
        return metadata.version("cobra")
    except metadata.PackageNotFoundError:  # pragma: no cover - cobra is a hard dependency
        return "unknown"


def load_core_network() -> "cobra.Model":
    """cobra's bundled E. coli core model; it ships with the cobra package and loads offline (only cobra's
    local repository is asked, never BiGG or BioModels over the network)."""
    import cobra
    from cobra.io.web.cobrapy_repository import Cobrapy

    started = time.perf_counter()
    try:
        model = cobra.io.load_model(TEXTBOOK, repositories=(Cobrapy(),))
    except Exception as error:  # cobra raises plain exceptions from several layers
        raise ModelFormatError(f"cannot load cobra's bundled model: {error}", source=SOURCE) from error
    logger.debug("loaded %s in %.2f s", SOURCE, time.perf_counter() - started)
    return model


def biomass_reaction(model: "cobra.Model") -> str:
    """The id of the single reaction the model's objective maximises (the biomass reaction)."""
    from cobra.util.solver import linear_reaction_coefficients

    objective = [r.id for r, c in linear_reaction_coefficients(model).items() if c != 0]
    if len(objective) != 1:
        raise ModelFormatError(f"expected one objective (biomass) reaction, got {objective}", source=SOURCE,
                               key="objective")
    return objective[0]


def parsimonious_fluxes(model: "cobra.Model") -> FluxSolution:
    """pFBA fluxes of ``model`` (mmol/gDW/h); raises when the LP is not solved to optimality."""
    from cobra.flux_analysis import pfba

    biomass = biomass_reaction(model)
    started = time.perf_counter()
    with model:
        try:
            solution = pfba(model)
        except Exception as error:  # infeasible/unbounded LPs surface as solver-specific exceptions
            raise ModelFormatError(f"parsimonious FBA failed: {error}", source=SOURCE, key="pfba") from error
    if solution.status != "optimal":
        raise ModelFormatError(f"parsimonious FBA status {solution.status!r}", source=SOURCE, key="pfba")
    fluxes = {r.id: float(solution.fluxes[r.id]) for r in model.reactions}
    logger.debug("pFBA in %.2f s: growth %.6g 1/h", time.perf_counter() - started, fluxes[biomass])
    return FluxSolution(fluxes=fluxes, growth_rate=fluxes[biomass], biomass_reaction=biomass,
                        cobra_version=cobra_version())
