"""ORACLE-style parameter sets: ln Km → vmax (so that v(x*) = v*) → reduced Jacobian → λmax, batched.

This is the function the sampler, the generators and the latent search call millions of times. At the
reference state (x*, v*) every rate law is linear in vmax, so vmax = v* / u(x*; Km) with u the unit rate;
the elasticities are vmax times the unit ones. No symbolic step: construction takes milliseconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from kinlatent.exceptions import NonFiniteValueError, StateFileError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.ratelaws.compiled import CompiledRateLaws
from kinlatent.stability.eigen import eigenvalues
from kinlatent.stability.jacobian import JacobianAssembler


@dataclass(frozen=True)
class OracleEvaluation:
    """Per-set results: λmax (B,), vmax (B, R) and whether every vmax is finite and ≥ 0 (B,)."""

    lambda_max: Tensor
    vmax: Tensor
    consistent: Tensor


class OracleStability:
    """Stability of ORACLE parameter sets around a fixed physiology (x*, v*, Keq).

    ``concentrations`` (µM) cover all species of ``model`` (boundary included); ``fluxes`` (µM/h) all reactions.
    """

    def __init__(self, model: KineticModel, concentrations: Sequence[float] | np.ndarray,
                 fluxes: Sequence[float] | np.ndarray, device: str | torch.device = "cpu",
                 dtype: torch.dtype = torch.float64) -> None:
        self.model = model
        self.compiled = CompiledRateLaws(model, device=device, dtype=dtype)
        self.km_names: tuple[str, ...] = model.km_parameter_names
        vmax_names = [r.parameter("vmax_forward") for r in model.reactions]
        self.base_parameters = self.compiled.parameter_vector(allow_missing=list(self.km_names) + vmax_names)
        self.km_columns = self.compiled.columns(self.km_names)
        concentrations = np.array(concentrations, dtype=float)
        fluxes = np.array(fluxes, dtype=float)
        if concentrations.shape != (len(model.species),):
            raise StateFileError(f"expected {len(model.species)} concentrations, got {concentrations.shape}",
                                 source=model.source, key="concentrations")
        if fluxes.shape != (model.n_reactions,):
            raise StateFileError(f"expected {model.n_reactions} fluxes, got {fluxes.shape}",
                                 source=model.source, key="fluxes")
        if not (np.isfinite(concentrations).all() and (concentrations > 0).all()):
            bad = model.species[int(np.flatnonzero(~(np.isfinite(concentrations) & (concentrations > 0)))[0])]
            raise NonFiniteValueError("concentration must be finite and > 0", source=model.source, key=bad)
        if not np.isfinite(fluxes).all():
            bad = model.reaction_names[int(np.flatnonzero(~np.isfinite(fluxes))[0])]
            raise NonFiniteValueError("flux is not finite", source=model.source, key=bad)
        kwargs = dict(dtype=dtype, device=self.compiled.device)
        self.concentrations = torch.as_tensor(concentrations, **kwargs).unsqueeze(0)
        self.fluxes = torch.as_tensor(fluxes, **kwargs)
        self.assembler = JacobianAssembler(self.compiled, model.conservation)

    @property
    def n_km(self) -> int:
        return len(self.km_names)

    def km_vector(self, model: KineticModel | None = None) -> Tensor:
        """ln Km of a parameterized model (default: this one), in :attr:`km_names` order, shape (n_km,)."""
        model = model or self.model
        values = [model.parameter(name) for name in self.km_names]
        return torch.log(torch.as_tensor(values, dtype=self.compiled.dtype, device=self.compiled.device))

    def parameters(self, ln_km: Tensor) -> Tensor:
        """Full rate-law parameter matrix (B, P) with Km = exp(ln Km) and vmax left NaN."""
        ln_km = self._check(ln_km)
        base = self.base_parameters.unsqueeze(0).expand(ln_km.shape[0], -1)
        return base.index_copy(1, self.km_columns, torch.exp(ln_km))

    def _check(self, ln_km: Tensor) -> Tensor:
        ln_km = torch.as_tensor(ln_km, dtype=self.compiled.dtype, device=self.compiled.device)
        if ln_km.dim() == 1:
            ln_km = ln_km.unsqueeze(0)
        if ln_km.dim() != 2 or ln_km.shape[1] != self.n_km:
            raise ValueError(f"ln_km must have shape (B, {self.n_km}), got {tuple(ln_km.shape)}")
        return ln_km

    def _terms(self, ln_km: Tensor):
        params = self.parameters(ln_km)
        terms = self.compiled.unit_terms(self.concentrations, params)
        vmax = self.fluxes / (terms.forward - terms.backward)
        return terms, vmax

    def vmax(self, ln_km: Tensor) -> Tensor:
        """vmax (B, R) that makes every rate law give v* at x*."""
        return self._terms(ln_km)[1]

    def slot_elasticities(self, ln_km: Tensor) -> tuple[Tensor, Tensor]:
        """(∂v_r/∂x_j per rate-law slot (B, n_slots), vmax (B, R)) at x* for each ln Km set."""
        terms, vmax = self._terms(self._check(ln_km))
        return self.compiled.slot_elasticities(self.concentrations, terms, vmax), vmax

    def reduced_jacobian(self, ln_km: Tensor) -> Tensor:
        """J_r (B, n_ind, n_ind) in 1/h."""
        return self.assembler.reduced(self.slot_elasticities(ln_km)[0])

    def evaluate(self, ln_km: Tensor, chunk_size: int = 2048) -> OracleEvaluation:
        """λmax, vmax and a consistency flag for a batch, processed in chunks to bound memory."""
        ln_km = self._check(ln_km)
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        if ln_km.shape[0] == 0:
            empty = ln_km.new_empty((0,))
            return OracleEvaluation(empty, ln_km.new_empty((0, self.model.n_reactions)), empty.bool())
        lam, vmaxes, ok = [], [], []
        for start in range(0, ln_km.shape[0], chunk_size):
            chunk = ln_km[start:start + chunk_size]
            terms, vmax = self._terms(chunk)
            slots = self.compiled.slot_elasticities(self.concentrations, terms, vmax)
            lam.append(eigenvalues(self.assembler.reduced(slots)).real.max(dim=-1).values)
            vmaxes.append(vmax)
            ok.append(torch.isfinite(vmax).all(dim=1) & (vmax >= 0).all(dim=1))
        return OracleEvaluation(torch.cat(lam), torch.cat(vmaxes), torch.cat(ok))

    def lambda_max(self, ln_km: Tensor, chunk_size: int = 2048) -> Tensor:
        """λmax = max Re eig(J_r) in 1/h for each ln Km set, (B,). Differentiable w.r.t. ln_km."""
        return self.evaluate(ln_km, chunk_size).lambda_max

    def parameter_dict(self, ln_km: Tensor) -> list[Mapping[str, float]]:
        """Full parameter sets (Km and recomputed vmax by SKiMpy name) for export, one dict per row."""
        ln_km = self._check(ln_km)
        vmax = self.vmax(ln_km).detach().cpu().numpy()
        km = torch.exp(ln_km).detach().cpu().numpy()
        vmax_names = [r.parameter("vmax_forward") for r in self.model.reactions]
        return [dict(zip(self.km_names, k.tolist())) | dict(zip(vmax_names, v.tolist())) for k, v in zip(km, vmax)]
