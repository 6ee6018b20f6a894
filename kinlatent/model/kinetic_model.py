"""KineticModel: species, reactions, parameters, stoichiometry and conserved moieties of a kinetic model."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Mapping

import numpy as np

from kinlatent.exceptions import MissingParameterError, NonFiniteValueError
from kinlatent.model.conservation import ConservationAnalysis, analyse_conservation
from kinlatent.model.reaction import Reaction


@dataclass(frozen=True)
class KineticModel:
    """A kinetic model dx/dt = N · v(x, p) over ODE species, boundary species held fixed.

    ``parameters`` maps SKiMpy parameter names to values (``None`` for null, e.g. structure-only files);
    boundary species' concentrations (µM) are parameters named like the species, as in SKiMpy.
    """

    name: str
    species: tuple[str, ...]
    boundary_species: tuple[str, ...]
    reactions: tuple[Reaction, ...]
    parameters: Mapping[str, float | None]
    source: str | None = None
    dependent_hint: tuple[str, ...] = ()
    compartments: Mapping[str, str] = field(default_factory=dict)

    # ---- structure -------------------------------------------------------------------------------------
    @cached_property
    def ode_species(self) -> tuple[str, ...]:
        boundary = set(self.boundary_species)
        return tuple(s for s in self.species if s not in boundary)

    @cached_property
    def species_index(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.species)}

    @cached_property
    def reaction_names(self) -> tuple[str, ...]:
        return tuple(r.name for r in self.reactions)

    @property
    def n_reactions(self) -> int:
        return len(self.reactions)

    @cached_property
    def full_stoichiometry(self) -> np.ndarray:
        """Stoichiometric matrix over *all* species (n_species × n_reactions), modifiers included."""
        matrix = np.zeros((len(self.species), len(self.reactions)))
        for j, reaction in enumerate(self.reactions):
            for species, coefficient in reaction.stoichiometry().items():
                matrix[self.species_index[species], j] += coefficient
        return matrix

    @cached_property
    def stoichiometry(self) -> np.ndarray:
        """N over the ODE species (n_ode × n_reactions): boundary rows are dropped (constant concentration)."""
        rows = [self.species_index[s] for s in self.ode_species]
        return self.full_stoichiometry[rows]

    @cached_property
    def conservation(self) -> ConservationAnalysis:
        return analyse_conservation(
            self.stoichiometry, self.ode_species, prefer_dependent=self.dependent_hint, source=self.source
        )

    @cached_property
    def km_parameter_names(self) -> tuple[str, ...]:
        """The Michaelis constants that enter the rate laws, in reaction then slot order (the ln Km vector)."""
        from kinlatent.ratelaws import RATE_LAWS

        names: list[str] = []
        for reaction in self.reactions:
            ks, kp = RATE_LAWS[reaction.mechanism].km_parameters(reaction)
            names.extend(ks + kp)
        return tuple(names)

    @cached_property
    def km_species(self) -> tuple[str, ...]:
        """The reactant bound at each Michaelis constant, in :attr:`km_parameter_names` order."""
        species_of = {reaction.parameter(slot.km_parameter_base): slot.species
                      for reaction in self.reactions for slot in reaction.slots}
        return tuple(species_of[name] for name in self.km_parameter_names)

    # ---- parameters --------------------------------------------------------------------------------------
    def parameter(self, name: str) -> float:
        """Value of a parameter; a clear error when it is absent or null."""
        if name not in self.parameters:
            raise MissingParameterError("parameter is not defined in the model", source=self.source, key=name)
        value = self.parameters[name]
        if value is None:
            raise MissingParameterError(
                "parameter is null in the model file but is needed here", source=self.source, key=name
            )
        if not math.isfinite(value):
            raise NonFiniteValueError(f"parameter is not finite ({value})", source=self.source, key=name)
        return float(value)

    def boundary_concentrations(self) -> dict[str, float]:
        """Fixed concentrations (µM) of the boundary species, read from the parameters."""
        values = {}
        for species in self.boundary_species:
            value = self.parameter(species)
            if value <= 0:
                raise NonFiniteValueError(
                    f"boundary concentration must be > 0, got {value}", source=self.source, key=species
                )
            values[species] = value
        return values

    def with_parameters(self, updates: Mapping[str, float], name: str | None = None) -> "KineticModel":
        """A copy with some parameter values replaced (e.g. a scaled vmax for a recombinant strain)."""
        unknown = [k for k in updates if k not in self.parameters]
        if unknown:
            raise MissingParameterError("cannot set unknown parameter(s)", source=self.source, key=", ".join(unknown))
        merged = dict(self.parameters)
        merged.update({k: float(v) for k, v in updates.items()})
        return replace(self, parameters=merged, name=name or self.name)

    def fingerprint(self) -> str:
        """SHA-256 of the model's structure and parameter values (stable across processes)."""
        payload = {
            "species": self.species,
            "boundary": self.boundary_species,
            "reactions": [
                [r.name, r.mechanism, [(s.role, s.species, s.stoichiometry) for s in r.slots],
                 [(m.kind, m.species, m.stoichiometry) for m in r.modifiers]]
                for r in self.reactions
            ],
            "parameters": sorted((k, v) for k, v in self.parameters.items()),
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
