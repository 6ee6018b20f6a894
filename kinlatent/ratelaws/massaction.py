"""Reversible mass action: a = Π s_i, b = Π p_j / K, each listed reactant once (no exponents, no Km)."""
from __future__ import annotations

import torch

from kinlatent.ratelaws.base import RateInputs, RateLaw, UnitRates, register


@register
class RevMassaction(RateLaw):
    """v = V (Π s_i − Π p_j / K); parameters vmax_forward and k_equilibrium only."""

    name = "RevMassaction"
    substrate_km = False
    product_km = False

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        forward = inputs.s.prod(dim=-1)
        backward = inputs.p.prod(dim=-1) / inputs.keq
        ones_s, ones_p = torch.ones_like(inputs.s), torch.ones_like(inputs.p)
        return UnitRates(forward, backward, ones_s, 0.0 * ones_p, 0.0 * ones_s, ones_p)
