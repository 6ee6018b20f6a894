"""Rate law of each reaction of the core network, written as SKiMpy YAML mechanism entries.

- reversible, one substrate and one product with unit stoichiometry → ``ReversibleMichaelisMenten``
  (roles ``substrate``/``product``, no ``mechanism_stoichiometry`` key, as in SKiMpy's files);
- any other reversible reaction → ``Convenience`` (roles ``substrate1..``/``product1..`` with
  ``mechanism_stoichiometry``; integer stoichiometries enter as exponents and saturation polynomials);
- reactions with an irreversible rate law (the biomass reaction and ATPM; with policy ``"michaelis_menten"``
  every cobra-irreversible reaction, see :mod:`.network`) → ``IrrevMichaelisMenten``: one saturation factor
  per substrate; products are listed (they change in the ODEs) but do not enter the rate.
The semantics are those of RATE_LAWS.md / :mod:`kinlatent.ratelaws`.
"""
from __future__ import annotations

from typing import Any

from kinlatent.default_model.network import NetworkReaction

REVERSIBLE_MICHAELIS_MENTEN = "ReversibleMichaelisMenten"
CONVENIENCE = "Convenience"
IRREVERSIBLE_MICHAELIS_MENTEN = "IrrevMichaelisMenten"


def rate_law_name(reaction: NetworkReaction) -> str:
    """The SKiMpy mechanism class of a network reaction (rules in the module docstring); the reversible
    laws are chosen from the net stoichiometry whatever the flux direction."""
    if reaction.irreversible_rate_law:
        return IRREVERSIBLE_MICHAELIS_MENTEN
    substrates, products = reaction.substrates, reaction.products
    if len(substrates) == 1 and len(products) == 1 and substrates[0][1] == -1.0 and products[0][1] == 1.0:
        return REVERSIBLE_MICHAELIS_MENTEN
    return CONVENIENCE


def mechanism_entry(reaction: NetworkReaction) -> dict[str, Any]:
    """The ``mechanism`` mapping of a reaction in SKiMpy's YAML layout."""
    law = rate_law_name(reaction)
    if law == REVERSIBLE_MICHAELIS_MENTEN:
        return {"class": law, "substrate": reaction.substrates[0][0], "product": reaction.products[0][0]}
    entry: dict[str, Any] = {"class": law}
    stoichiometry: dict[str, float] = {}
    for kind, slots in (("substrate", reaction.substrates), ("product", reaction.products)):
        for number, (species, coefficient) in enumerate(slots, start=1):
            entry[f"{kind}{number}"] = species
            stoichiometry[f"{kind}{number}"] = float(coefficient)
    entry["mechanism_stoichiometry"] = stoichiometry
    return entry


def reaction_entry(reaction: NetworkReaction) -> dict[str, Any]:
    """A reaction in SKiMpy's YAML layout: enzyme, mechanism, modifiers, name."""
    return {"enzyme": None, "mechanism": mechanism_entry(reaction), "modifiers": {}, "name": reaction.name}
