"""Metabolic control analysis at the reference steady state, batched over ORACLE parameter sets.

With E = ∂v/∂x over the ODE species, L the link matrix and N_r the reduced stoichiometry, the reduced
Jacobian is J_r = N_r E L and (Reder 1988)

    C^x_i = −J_r⁻¹ N_r            (independent species × reactions, unscaled)
    C^x   = L C^x_i               (all ODE species)
    C^J   = I + E L C^x_i         (reactions × reactions, unscaled)

The scaled coefficients are C^{J_j}_{e_k} = (v_k / v_j) C^J_{jk} and C^{x_i}_{e_k} = (v_k / x_i) C^x_{ik}: every
rate law is proportional to its enzyme (vmax), so ∂v_k/∂ln e_k = v_k. They obey the summation theorems
(Σ_k C^{J_j}_{e_k} = 1, Σ_k C^{x_i}_{e_k} = 0) and the connectivity theorem (C^J E L = 0). Everything is
differentiable (torch.linalg.solve).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from kinlatent.stability.oracle import OracleStability


@dataclass(frozen=True)
class ControlCoefficients:
    """Scaled flux (B, R, R) and concentration (B, n_ode, R) control coefficients; rows: flux / species."""

    flux: Tensor
    concentration: Tensor


class ControlAnalysis:
    """Control coefficients of ORACLE parameter sets (ln Km) around one physiology."""

    def __init__(self, oracle: OracleStability) -> None:
        self.oracle = oracle
        model = oracle.model
        compiled = oracle.compiled
        kwargs = dict(dtype=compiled.dtype, device=compiled.device)
        ode_position = {model.species_index[s]: i for i, s in enumerate(model.ode_species)}
        slot_reaction = compiled.slot_reaction.cpu().numpy()
        slot_species = compiled.slot_species.cpu().numpy()
        keep, flat = [], []
        n_ode = len(model.ode_species)
        for k, (r, j) in enumerate(zip(slot_reaction, slot_species)):
            column = ode_position.get(int(j))
            if column is not None:  # boundary species are constant: no elasticity column
                keep.append(k)
                flat.append(int(r) * n_ode + column)
        self.n_ode = n_ode
        self.n_reactions = model.n_reactions
        self._slots = torch.tensor(keep, dtype=torch.long, device=compiled.device)
        self._flat = torch.tensor(flat, dtype=torch.long, device=compiled.device)
        self.link = torch.tensor(model.conservation.link_matrix, **kwargs)
        self.reduced_stoichiometry = oracle.assembler.reduced_stoichiometry
        ode_index = [model.species_index[s] for s in model.ode_species]
        self.ode_concentrations = oracle.concentrations[0, ode_index]
        self.fluxes = oracle.fluxes

    def elasticities(self, ln_km: Tensor) -> Tensor:
        """Unscaled ∂v/∂x over ODE species, (B, R, n_ode), in (µM/h)/µM."""
        slots, _ = self.oracle.slot_elasticities(ln_km)
        flat = slots.new_zeros((slots.shape[0], self.n_reactions * self.n_ode))
        flat = flat.index_add(1, self._flat, slots[:, self._slots])
        return flat.view(-1, self.n_reactions, self.n_ode)

    def unscaled(self, ln_km: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(C^J (B, R, R), C^x (B, n_ode, R), E L (B, R, n_ind)), unscaled."""
        elasticity_link = self.elasticities(ln_km) @ self.link
        jacobian = self.reduced_stoichiometry @ elasticity_link
        n_r = self.reduced_stoichiometry.expand(jacobian.shape[0], -1, -1)
        concentration_independent = -torch.linalg.solve(jacobian, n_r)
        identity = torch.eye(self.n_reactions, dtype=jacobian.dtype, device=jacobian.device)
        flux = identity + elasticity_link @ concentration_independent
        return flux, self.link @ concentration_independent, elasticity_link

    def coefficients(self, ln_km: Tensor) -> ControlCoefficients:
        """Scaled control coefficients; rows of reactions with zero reference flux are NaN."""
        flux, concentration, _ = self.unscaled(ln_km)
        v = self.fluxes
        with np.errstate(divide="ignore"):
            inverse_v = torch.where(v != 0, 1.0 / v, torch.full_like(v, float("nan")))
        scaled_flux = inverse_v[None, :, None] * flux * v[None, None, :]
        scaled_concentration = (1.0 / self.ode_concentrations)[None, :, None] * concentration * v[None, None, :]
        return ControlCoefficients(scaled_flux, scaled_concentration)
