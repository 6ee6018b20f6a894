"""Convenience kinetics (Liebermeister & Klipp) with stoichiometric exponents, as SKiMpy defines it."""
from __future__ import annotations

import torch
from torch import Tensor

from kinlatent.ratelaws.base import RateInputs, RateLaw, UnitRates, register


def _saturation_polynomial(ratio: Tensor, nu: Tensor) -> tuple[Tensor, Tensor]:
    """Σ_{k=0..int(ν)} ratio^k and its derivative w.r.t. ln ratio (Σ k·ratio^k), elementwise."""
    n_terms = int(nu.max().item()) if nu.numel() else 0
    total = torch.ones_like(ratio)
    derivative = torch.zeros_like(ratio)
    power = torch.ones_like(ratio)
    for k in range(1, n_terms + 1):
        power = power * ratio
        included = (nu >= k).to(ratio.dtype)
        total = total + included * power
        derivative = derivative + included * k * power
    return total, derivative


@register
class Convenience(RateLaw):
    """a = Π (s_i/Ks_i)^ν_i / D; b = Π Ks_i^−ν_i Π p_j^μ_j / (K·D);
    D = Π_i Σ_{a≤ν_i} (s_i/Ks_i)^a + Π_j Σ_{b≤μ_j} (p_j/Kp_j)^b − 1 (sums run to int(ν))."""

    name = "Convenience"

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        sigma = inputs.s / inputs.km_s
        pi = inputs.p / inputs.km_p
        nu_s = inputs.nu_s.floor()
        nu_p = inputs.nu_p.floor()
        poly_s, dpoly_s = _saturation_polynomial(sigma, nu_s)
        poly_p, dpoly_p = _saturation_polynomial(pi, nu_p)
        d_sub = poly_s.prod(dim=-1)
        d_prod = poly_p.prod(dim=-1)
        d = d_sub + d_prod - 1.0
        forward = (sigma ** inputs.nu_s).prod(dim=-1) / d
        backward = (inputs.p ** inputs.nu_p).prod(dim=-1) / (
            (inputs.km_s ** inputs.nu_s).prod(dim=-1) * inputs.keq * d
        )
        dlnd_s = d_sub.unsqueeze(-1) * dpoly_s / poly_s / d.unsqueeze(-1)
        dlnd_p = d_prod.unsqueeze(-1) * dpoly_p / poly_p / d.unsqueeze(-1)
        nu_s_b = inputs.nu_s.expand_as(dlnd_s)
        nu_p_b = inputs.nu_p.expand_as(dlnd_p)
        return UnitRates(forward, backward, nu_s_b - dlnd_s, -dlnd_p, -dlnd_s, nu_p_b - dlnd_p)
