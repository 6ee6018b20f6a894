"""A model's rate laws compiled to index tensors and evaluated in batch (torch, CPU or CUDA, differentiable).

Reactions are grouped by (rate-law class, #substrates, #products); each group is evaluated with one set of
tensor operations over all its reactions and all parameter sets. Nothing is compiled symbolically: building
the index tensors takes milliseconds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch import Tensor

from kinlatent.exceptions import MissingParameterError, NonFiniteValueError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.ratelaws.base import RATE_LAWS, RateInputs, RateLaw
from kinlatent.ratelaws.modifiers import MODIFIERS


class RateTerms(NamedTuple):
    """Unit forward/backward rates (B, R) incl. modifiers, and log-derivatives per slot (B, n_slots)."""

    forward: Tensor
    backward: Tensor
    slot_dlnf: Tensor
    slot_dlnb: Tensor


@dataclass
class _Group:
    law: type[RateLaw]
    reactions: Tensor
    substrate_species: Tensor
    product_species: Tensor
    km_substrate: Tensor | None
    km_product: Tensor | None
    equilibrium: Tensor | None
    hill: Tensor | None
    nu_substrate: Tensor
    nu_product: Tensor


class CompiledRateLaws:
    """Batched evaluation of v(x, p) and ∂v/∂x for one model.

    ``x`` holds the concentrations of *all* species in ``model.species`` order, shape (B, n_species).
    ``params`` holds the rate-law parameters in :attr:`parameter_names` order, shape (P,) or (B, P).
    """

    def __init__(self, model: KineticModel, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float64) -> None:
        self.model = model
        self.device = torch.device(device)
        self.dtype = dtype
        names: list[str] = []
        for reaction in model.reactions:
            for name in RATE_LAWS[reaction.mechanism].used_parameters(reaction):
                if name not in names:
                    names.append(name)
        self.parameter_names: tuple[str, ...] = tuple(names)
        self.parameter_index = {n: i for i, n in enumerate(names)}
        self.vmax_index = self._long([self.parameter_index[r.parameter("vmax_forward")] for r in model.reactions])
        self.groups = self._build_groups()
        order = torch.cat([g.reactions for g in self.groups])
        self._to_reaction_order = torch.argsort(order)
        self._build_modifiers()
        self._build_slots()

    # ---- construction ------------------------------------------------------------------------------------
    def _long(self, values: Sequence[int] | np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(values, dtype=np.int64), device=self.device)

    def _float(self, values: Sequence[float] | np.ndarray) -> Tensor:
        return torch.as_tensor(np.asarray(values, dtype=float), dtype=self.dtype, device=self.device)

    def _build_groups(self) -> list[_Group]:
        keyed: dict[tuple[str, int, int], list[int]] = {}
        for j, r in enumerate(self.model.reactions):
            keyed.setdefault((r.mechanism, len(r.substrates), len(r.products)), []).append(j)
        species = self.model.species_index
        groups = []
        for (law_name, ns, np_), members in keyed.items():
            law = RATE_LAWS[law_name]
            rxns = [self.model.reactions[j] for j in members]
            km_s = [law.km_parameters(r)[0] for r in rxns]
            km_p = [law.km_parameters(r)[1] for r in rxns]
            groups.append(_Group(
                law=law,
                reactions=self._long(members),
                substrate_species=self._long([[species[s.species] for s in r.substrates] for r in rxns]).view(-1, ns),
                product_species=self._long([[species[p.species] for p in r.products] for r in rxns]).view(-1, np_),
                km_substrate=self._long([[self.parameter_index[k] for k in ks] for ks in km_s]).view(-1, ns)
                if law.substrate_km else None,
                km_product=self._long([[self.parameter_index[k] for k in kp] for kp in km_p]).view(-1, np_)
                if law.product_km else None,
                equilibrium=self._long([self.parameter_index[r.parameter("k_equilibrium")] for r in rxns])
                if law.has_equilibrium else None,
                hill=self._long([self.parameter_index[r.parameter("hill_coefficient")] for r in rxns])
                if law.has_hill else None,
                nu_substrate=self._float([[abs(s.stoichiometry) for s in r.substrates] for r in rxns]).view(-1, ns),
                nu_product=self._float([[abs(p.stoichiometry) for p in r.products] for r in rxns]).view(-1, np_),
            ))
        return groups

    def _build_modifiers(self) -> None:
        rxn, species, alpha, beta = [], [], [], []
        for j, reaction in enumerate(self.model.reactions):
            for modifier in reaction.modifiers:
                a, b = MODIFIERS[modifier.kind](modifier.stoichiometry)
                rxn.append(j)
                species.append(self.model.species_index[modifier.species])
                alpha.append(a)
                beta.append(b)
        self.modifier_reaction = self._long(rxn)
        self.modifier_species = self._long(species)
        self.modifier_alpha = self._float(alpha)
        self.modifier_beta = self._float(beta)

    def _build_slots(self) -> None:
        rxn, species = [], []
        for g in self.groups:
            for index in (g.substrate_species, g.product_species):
                rxn.append(g.reactions.unsqueeze(1).expand_as(index).reshape(-1))
                species.append(index.reshape(-1))
        rxn.append(self.modifier_reaction)
        species.append(self.modifier_species)
        self.slot_reaction = torch.cat(rxn)
        self.slot_species = torch.cat(species)

    # ---- parameters --------------------------------------------------------------------------------------
    def parameter_vector(self, model: KineticModel | None = None, allow_missing: Sequence[str] = ()) -> Tensor:
        """Rate-law parameters of ``model`` (default: the compiled one) as a (P,) tensor.

        Names in ``allow_missing`` may be null (NaN is used; e.g. Km and vmax that a sampler fills in);
        any other null, non-finite or non-positive value raises an error naming the model file and key.
        """
        model = model or self.model
        allowed = set(allow_missing)
        values = []
        for name in self.parameter_names:
            if name in allowed and model.parameters.get(name) is None:
                values.append(math.nan)
                continue
            value = model.parameter(name)
            if value < 0 or (value == 0 and not name.startswith("vmax_forward")):
                raise NonFiniteValueError(f"parameter must be > 0, got {value}", source=model.source, key=name)
            values.append(value)
        return self._float(values)

    def columns(self, names: Sequence[str]) -> Tensor:
        """Indices of parameter names in the parameter vector."""
        missing = [n for n in names if n not in self.parameter_index]
        if missing:
            raise MissingParameterError("not a rate-law parameter of the model", source=self.model.source,
                                        key=", ".join(missing[:5]))
        return self._long([self.parameter_index[n] for n in names])

    # ---- evaluation --------------------------------------------------------------------------------------
    def unit_terms(self, x: Tensor, params: Tensor) -> RateTerms:
        """Unit (vmax = 1) forward and backward rates and their slot log-derivatives."""
        par = params if params.dim() == 2 else params.unsqueeze(0)
        batch = max(x.shape[0], par.shape[0])
        forwards, backwards, dlnf, dlnb = [], [], [], []
        for g in self.groups:
            s = x[:, g.substrate_species]
            p = x[:, g.product_species]
            shape_s, shape_p = (1,) + tuple(g.substrate_species.shape), (1,) + tuple(g.product_species.shape)
            one_s = torch.ones(shape_s, dtype=x.dtype, device=x.device)
            one_p = torch.ones(shape_p, dtype=x.dtype, device=x.device)
            one_g = torch.ones((1, g.reactions.numel()), dtype=x.dtype, device=x.device)
            inputs = RateInputs(
                s=s, p=p,
                km_s=par[:, g.km_substrate] if g.km_substrate is not None else one_s,
                km_p=par[:, g.km_product] if g.km_product is not None else one_p,
                keq=par[:, g.equilibrium] if g.equilibrium is not None else one_g,
                hill=par[:, g.hill] if g.hill is not None else one_g,
                nu_s=g.nu_substrate, nu_p=g.nu_product,
            )
            out = g.law.unit_rates(inputs)
            forwards.append(out.forward.expand(batch, -1))
            backwards.append(out.backward.expand(batch, -1))
            dlnf.append(out.dlnf_dlns.expand(batch, -1, -1).reshape(batch, -1))
            dlnf.append(out.dlnf_dlnp.expand(batch, -1, -1).reshape(batch, -1))
            dlnb.append(out.dlnb_dlns.expand(batch, -1, -1).reshape(batch, -1))
            dlnb.append(out.dlnb_dlnp.expand(batch, -1, -1).reshape(batch, -1))
        forward = torch.cat(forwards, dim=1)[:, self._to_reaction_order]
        backward = torch.cat(backwards, dim=1)[:, self._to_reaction_order]
        if self.modifier_reaction.numel():
            log_m = torch.log(x[:, self.modifier_species])
            zeros = torch.zeros((x.shape[0], forward.shape[1]), dtype=x.dtype, device=x.device)
            forward = forward * torch.exp(zeros.index_add(1, self.modifier_reaction, log_m * self.modifier_alpha))
            backward = backward * torch.exp(zeros.index_add(1, self.modifier_reaction, log_m * self.modifier_beta))
            dlnf.append(self.modifier_alpha.expand(batch, -1))
            dlnb.append(self.modifier_beta.expand(batch, -1))
        return RateTerms(forward, backward, torch.cat(dlnf, dim=1), torch.cat(dlnb, dim=1))

    def vmax(self, params: Tensor) -> Tensor:
        par = params if params.dim() == 2 else params.unsqueeze(0)
        return par[:, self.vmax_index]

    def rates(self, x: Tensor, params: Tensor) -> Tensor:
        """Net rates v (B, R) in µM/h."""
        terms = self.unit_terms(x, params)
        return self.vmax(params) * (terms.forward - terms.backward)

    def slot_elasticities(self, x: Tensor, terms: RateTerms, vmax: Tensor) -> Tensor:
        """∂v_r/∂x_j for every (reaction, species) slot, shape (B, n_slots)."""
        r = self.slot_reaction
        return vmax[:, r] * (terms.forward[:, r] * terms.slot_dlnf - terms.backward[:, r] * terms.slot_dlnb) \
            / x[:, self.slot_species]

    def elasticities(self, x: Tensor, params: Tensor) -> Tensor:
        """Dense ∂v/∂x over all species, shape (B, R, n_species)."""
        terms = self.unit_terms(x, params)
        batch = terms.forward.shape[0]
        contributions = self.slot_elasticities(x, terms, self.vmax(params).expand(batch, -1))
        n_species = len(self.model.species)
        flat = torch.zeros((batch, self.model.n_reactions * n_species), dtype=x.dtype, device=x.device)
        flat = flat.index_add(1, self.slot_reaction * n_species + self.slot_species, contributions)
        return flat.view(batch, self.model.n_reactions, n_species)
