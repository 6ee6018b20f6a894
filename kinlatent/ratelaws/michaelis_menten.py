"""Reversible Michaelis–Menten (uni-uni, Haldane form) and irreversible multi-substrate Michaelis–Menten."""
from __future__ import annotations

import torch

from kinlatent.ratelaws.base import RateInputs, RateLaw, UnitRates, register


@register
class ReversibleMichaelisMenten(RateLaw):
    """s ⇌ p: D = 1 + s/Ks + p/Kp; a = (s/Ks)/D; b = (p/Ks)/(K·D) (Haldane: the backward term uses Ks)."""

    name = "ReversibleMichaelisMenten"
    default_substrate_roles = ("substrate",)
    default_product_roles = ("product",)

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        s, p = inputs.s[..., 0], inputs.p[..., 0]
        ks, kp = inputs.km_s[..., 0], inputs.km_p[..., 0]
        sigma, pi = s / ks, p / kp
        d = 1.0 + sigma + pi
        forward = sigma / d
        backward = (p / ks) / (inputs.keq * d)
        dlnd_s, dlnd_p = (sigma / d).unsqueeze(-1), (pi / d).unsqueeze(-1)
        return UnitRates(forward, backward, 1.0 - dlnd_s, -dlnd_p, -dlnd_s, 1.0 - dlnd_p)


@register
class IrrevMichaelisMenten(RateLaw):
    """a = Π_i s_i/(s_i + Ks_i) over substrates; no backward rate; products and stoichiometry not in the law."""

    name = "IrrevMichaelisMenten"
    has_equilibrium = False
    product_km = False

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        s, ks = inputs.s, inputs.km_s
        saturation = s / (s + ks)
        forward = saturation.prod(dim=-1)
        dlnf_s = ks / (s + ks)
        zeros_p = torch.zeros_like(inputs.p)
        return UnitRates(
            forward, torch.zeros_like(forward), dlnf_s, zeros_p, torch.zeros_like(dlnf_s), zeros_p
        )
