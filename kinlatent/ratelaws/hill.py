"""Reversible Hill-type laws of SKiMpy: n-n generalized (h = 1), uni-bi and bi-uni with a Hill coefficient."""
from __future__ import annotations

import torch

from kinlatent.exceptions import ModelFormatError
from kinlatent.model.reaction import Reaction
from kinlatent.ratelaws.base import RateInputs, RateLaw, UnitRates, register


@register
class H1GeneralizedReversibleHill(RateLaw):
    """n substrates paired by index with n products, all |ν| = 1:
    a = Π s_i/Ks_i / D; b = Π p_i / (K · Π Ks_i · D); D = Π_i (1 + s_i/Ks_i + p_i/Kp_i)."""

    name = "H1GeneralizedReversibleHill"

    @classmethod
    def validate(cls, reaction: Reaction, source: str | None) -> None:
        super().validate(reaction, source)
        key = f"reactions.{reaction.name}.mechanism"
        if len(reaction.substrates) != len(reaction.products):
            raise ModelFormatError(
                f"{cls.name} needs as many products as substrates, got "
                f"{len(reaction.substrates)} and {len(reaction.products)}", source=source, key=key,
            )
        if any(abs(slot.stoichiometry) != 1.0 for slot in reaction.slots):
            raise ModelFormatError(f"{cls.name} needs all stoichiometries ±1", source=source, key=key)

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        sigma = inputs.s / inputs.km_s
        pi = inputs.p / inputs.km_p
        factors = 1.0 + sigma + pi
        d = factors.prod(dim=-1)
        forward = sigma.prod(dim=-1) / d
        backward = inputs.p.prod(dim=-1) / (inputs.km_s.prod(dim=-1) * inputs.keq * d)
        dlnd_s = sigma / factors
        dlnd_p = pi / factors
        return UnitRates(forward, backward, 1.0 - dlnd_s, -dlnd_p, -dlnd_s, 1.0 - dlnd_p)


@register
class UniBiReversibleHill(RateLaw):
    """s ⇌ p1 + p2 with Hill coefficient h: q = s/Ks + p1p2/(Kp1Kp2), H = q^(h−1);
    a = (s/Ks)·H/D; b = p1p2·H/(K·Ks·D);
    D = 1 + (s/Ks + p1/Kp1)^h + (s/Ks + p2/Kp2)^h + q^h − 2·s/Ks^h (SKiMpy's literal last term)."""

    name = "UniBiReversibleHill"
    has_hill = True
    default_substrate_roles = ("substrate",)
    default_product_roles = ("product1", "product2")

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        s = inputs.s[..., 0]
        p1, p2 = inputs.p[..., 0], inputs.p[..., 1]
        ks = inputs.km_s[..., 0]
        kp1, kp2 = inputs.km_p[..., 0], inputs.km_p[..., 1]
        h = inputs.hill
        sigma, pi1, pi2 = s / ks, p1 / kp1, p2 / kp2
        q = sigma + pi1 * pi2
        u1, u2 = sigma + pi1, sigma + pi2
        last = 2.0 * s / ks ** h
        d = 1.0 + u1 ** h + u2 ** h + q ** h - last
        hill_effect = q ** (h - 1.0)
        forward = sigma * hill_effect / d
        backward = p1 * p2 * hill_effect / (inputs.keq * ks * d)
        dd_s = h * (u1 ** (h - 1.0) * sigma + u2 ** (h - 1.0) * sigma + q ** (h - 1.0) * sigma) - last
        dd_p1 = h * (u1 ** (h - 1.0) * pi1 + q ** (h - 1.0) * pi1 * pi2)
        dd_p2 = h * (u2 ** (h - 1.0) * pi2 + q ** (h - 1.0) * pi1 * pi2)
        dlnh_s = (h - 1.0) * sigma / q
        dlnh_p = (h - 1.0) * pi1 * pi2 / q
        dlnd_s = (dd_s / d).unsqueeze(-1)
        dlnd_p = torch.stack((dd_p1 / d, dd_p2 / d), dim=-1)
        dlnh_s = dlnh_s.unsqueeze(-1)
        dlnh_p = dlnh_p.unsqueeze(-1)
        return UnitRates(
            forward, backward,
            1.0 + dlnh_s - dlnd_s, dlnh_p - dlnd_p,
            dlnh_s - dlnd_s, 1.0 + dlnh_p - dlnd_p,
        )


@register
class BiUniReversibleHill(RateLaw):
    """s1 + s2 ⇌ p, the mirror image of :class:`UniBiReversibleHill`: q = s1s2/(Ks1Ks2) + p/Kp, H = q^(h−1);
    a = s1s2/(Ks1Ks2)·H/D; b = p·H/(K·Ks1·Ks2·D);
    D = 1 + (s1/Ks1 + p/Kp)^h + (s2/Ks2 + p/Kp)^h + q^h − 2·p/Kp^h."""

    name = "BiUniReversibleHill"
    has_hill = True
    default_substrate_roles = ("substrate1", "substrate2")
    default_product_roles = ("product",)

    @staticmethod
    def unit_rates(inputs: RateInputs) -> UnitRates:
        s1, s2 = inputs.s[..., 0], inputs.s[..., 1]
        p = inputs.p[..., 0]
        ks1, ks2 = inputs.km_s[..., 0], inputs.km_s[..., 1]
        kp = inputs.km_p[..., 0]
        h = inputs.hill
        sigma1, sigma2, pi = s1 / ks1, s2 / ks2, p / kp
        q = sigma1 * sigma2 + pi
        u1, u2 = sigma1 + pi, sigma2 + pi
        last = 2.0 * p / kp ** h
        d = 1.0 + u1 ** h + u2 ** h + q ** h - last
        hill_effect = q ** (h - 1.0)
        forward = sigma1 * sigma2 * hill_effect / d
        backward = p * hill_effect / (inputs.keq * ks1 * ks2 * d)
        dd_s1 = h * (u1 ** (h - 1.0) * sigma1 + q ** (h - 1.0) * sigma1 * sigma2)
        dd_s2 = h * (u2 ** (h - 1.0) * sigma2 + q ** (h - 1.0) * sigma1 * sigma2)
        dd_p = h * (u1 ** (h - 1.0) * pi + u2 ** (h - 1.0) * pi + q ** (h - 1.0) * pi) - last
        dlnh_s = ((h - 1.0) * sigma1 * sigma2 / q).unsqueeze(-1)
        dlnh_p = ((h - 1.0) * pi / q).unsqueeze(-1)
        dlnd_s = torch.stack((dd_s1 / d, dd_s2 / d), dim=-1)
        dlnd_p = (dd_p / d).unsqueeze(-1)
        return UnitRates(
            forward, backward,
            1.0 + dlnh_s - dlnd_s, dlnh_p - dlnd_p,
            dlnh_s - dlnd_s, 1.0 + dlnh_p - dlnd_p,
        )
