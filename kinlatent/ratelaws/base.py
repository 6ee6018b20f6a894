"""Rate-law interface shared by every mechanism, and the registry of supported classes.

A rate law is evaluated for a *group* of G reactions of the same class and shape, batched over B parameter sets.
Every supported law is linear in ``vmax_forward``, so laws return *unit* rates (vmax = 1):
``a`` (forward) and ``b`` (backward) of shape (B, G), with v = vmax · (a − b), and their logarithmic
derivatives with respect to each reactant slot, ∂ln a/∂ln x and ∂ln b/∂ln x, of shape (B, G, slots).
The elasticity then follows without autodiff: ∂v/∂x = vmax · (a·∂ln a/∂ln x − b·∂ln b/∂ln x) / x.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, NamedTuple

from torch import Tensor

from kinlatent.exceptions import ModelFormatError
from kinlatent.model.reaction import Reaction


class UnitRates(NamedTuple):
    """Unit forward/backward rates and their log-derivatives over substrate and product slots."""

    forward: Tensor
    backward: Tensor
    dlnf_dlns: Tensor
    dlnf_dlnp: Tensor
    dlnb_dlns: Tensor
    dlnb_dlnp: Tensor


class RateInputs(NamedTuple):
    """Gathered inputs of a group: concentrations, constants and |stoichiometries| per slot.

    Shapes: s (B, G, ns), p (B, G, np), km_s (B|1, G, ns), km_p (B|1, G, np), keq (B|1, G), hill (B|1, G),
    nu_s (G, ns), nu_p (G, np). Entries a law does not use are ones.
    """

    s: Tensor
    p: Tensor
    km_s: Tensor
    km_p: Tensor
    keq: Tensor
    hill: Tensor
    nu_s: Tensor
    nu_p: Tensor


class RateLaw(ABC):
    """One SKiMpy mechanism class, with its parameters and a batched evaluation."""

    name: ClassVar[str]
    has_equilibrium: ClassVar[bool] = True
    has_hill: ClassVar[bool] = False
    substrate_km: ClassVar[bool] = True
    product_km: ClassVar[bool] = True
    default_substrate_roles: ClassVar[tuple[str, ...] | None] = None
    default_product_roles: ClassVar[tuple[str, ...] | None] = None

    @classmethod
    def validate(cls, reaction: Reaction, source: str | None) -> None:
        """Check the reaction's reactant roles fit this law; raise :class:`ModelFormatError` otherwise."""
        for kind, expected, slots in (("substrates", cls.default_substrate_roles, reaction.substrates),
                                      ("products", cls.default_product_roles, reaction.products)):
            roles = tuple(slot.role for slot in slots)
            if expected is not None and roles != expected:
                raise ModelFormatError(
                    f"{cls.name} needs {kind} {list(expected)}, got {list(roles)}",
                    source=source, key=f"reactions.{reaction.name}.mechanism",
                )
        if not reaction.substrates:
            raise ModelFormatError(
                f"{cls.name} needs at least one substrate", source=source,
                key=f"reactions.{reaction.name}.mechanism",
            )

    @classmethod
    def km_parameters(cls, reaction: Reaction) -> tuple[list[str], list[str]]:
        """Names of the Michaelis constants the rate law uses, for substrate and product slots."""
        ks = [reaction.parameter(s.km_parameter_base) for s in reaction.substrates] if cls.substrate_km else []
        kp = [reaction.parameter(p.km_parameter_base) for p in reaction.products] if cls.product_km else []
        return ks, kp

    @classmethod
    def used_parameters(cls, reaction: Reaction) -> list[str]:
        """Every parameter name the rate law reads (vmax, Keq, Km, Hill coefficient)."""
        names = [reaction.parameter("vmax_forward")]
        if cls.has_equilibrium:
            names.append(reaction.parameter("k_equilibrium"))
        if cls.has_hill:
            names.append(reaction.parameter("hill_coefficient"))
        ks, kp = cls.km_parameters(reaction)
        return names + ks + kp

    @staticmethod
    @abstractmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        """Unit forward/backward rates of a group and their log-derivatives."""


RATE_LAWS: dict[str, type[RateLaw]] = {}


def register(law: type[RateLaw]) -> type[RateLaw]:
    """Class decorator adding a law to the registry under its SKiMpy class name."""
    RATE_LAWS[law.name] = law
    return law
