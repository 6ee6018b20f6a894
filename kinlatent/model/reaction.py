"""The small domain objects of a kinetic model: reactant slots, modifiers, reactions."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReactantSlot:
    """One reactant of a rate law: its role in the mechanism (``substrate1``), species and stoichiometry."""

    role: str
    species: str
    stoichiometry: float

    @property
    def km_parameter_base(self) -> str:
        """SKiMpy's base name of this slot's Michaelis constant (``km_substrate1``)."""
        return f"km_{self.role}"


@dataclass(frozen=True)
class Modifier:
    """A small-molecule modifier acting on the forward/backward rates of a reaction."""

    name: str
    kind: str
    species: str
    stoichiometry: float


@dataclass(frozen=True)
class Reaction:
    """A reaction: its rate-law class, ordered substrate and product slots and modifiers."""

    name: str
    mechanism: str
    substrates: tuple[ReactantSlot, ...]
    products: tuple[ReactantSlot, ...]
    modifiers: tuple[Modifier, ...] = ()

    def parameter(self, base: str) -> str:
        """Full SKiMpy parameter name, e.g. ``vmax_forward`` → ``vmax_forward_PGI``."""
        return f"{base}_{self.name}"

    @property
    def slots(self) -> tuple[ReactantSlot, ...]:
        return self.substrates + self.products

    def stoichiometry(self) -> dict[str, float]:
        """Net stoichiometric coefficient of every species the reaction changes (modifiers included)."""
        coefficients: dict[str, float] = {}
        for slot in self.slots:
            coefficients[slot.species] = coefficients.get(slot.species, 0.0) + slot.stoichiometry
        for modifier in self.modifiers:
            coefficients[modifier.species] = coefficients.get(modifier.species, 0.0) + modifier.stoichiometry
        return coefficients
