"""Small-molecule modifiers: constant exponents on the forward/backward rates of a mechanism.

Each modifier multiplies the unit forward rate by m^α and the unit backward rate by m^β (SKiMpy semantics):
- DisplacementSmallMoleculeModifier: β = ν (either sign), α = 0 — shifts the effective equilibrium only;
- FirstOrderSmallMoleculeModifier: ν < 0 ⇒ α = |ν|; ν > 0 ⇒ β = ν.
The species also gets ν·v in its own balance (see :meth:`Reaction.stoichiometry`).
"""
from __future__ import annotations

from typing import Callable

ModifierExponents = Callable[[float], tuple[float, float]]


def _displacement(nu: float) -> tuple[float, float]:
    return 0.0, nu


def _first_order(nu: float) -> tuple[float, float]:
    return (-nu, 0.0) if nu < 0 else (0.0, nu)


MODIFIERS: dict[str, ModifierExponents] = {
    "DisplacementSmallMoleculeModifier": _displacement,
    "FirstOrderSmallMoleculeModifier": _first_order,
}
