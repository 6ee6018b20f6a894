"""Full and reduced Jacobians assembled from slot elasticities with one matrix product each.

J = N · ∂v/∂x over ODE species; J_r = N_r · ∂v/∂x · L over independent species (L: link matrix).
Both are linear in the per-slot elasticities e_k = ∂v_{r_k}/∂x_{j_k}, so they are ``e @ M`` with a constant
(n_slots × n²) map M built once per model: one GEMM per batch, differentiable.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kinlatent.model.conservation import ConservationAnalysis
from kinlatent.ratelaws.compiled import CompiledRateLaws


class JacobianAssembler:
    """Turns slot elasticities (B, n_slots) into J (B, n_ode, n_ode) or J_r (B, n_ind, n_ind)."""

    def __init__(self, compiled: CompiledRateLaws, conservation: ConservationAnalysis) -> None:
        model = compiled.model
        n_ode = len(model.ode_species)
        ode_position = {model.species_index[s]: i for i, s in enumerate(model.ode_species)}
        stoichiometry = model.stoichiometry
        reduced_n = stoichiometry[list(conservation.independent)]
        link = conservation.link_matrix
        slot_reaction = compiled.slot_reaction.cpu().numpy()
        slot_species = compiled.slot_species.cpu().numpy()
        n_slots = slot_reaction.size
        n_ind = conservation.n_independent
        full_map = np.zeros((n_slots, n_ode, n_ode))
        reduced_map = np.zeros((n_slots, n_ind, n_ind))
        for k, (r, j) in enumerate(zip(slot_reaction, slot_species)):
            column = ode_position.get(int(j))
            if column is None:
                continue  # boundary species: constant, no Jacobian column
            full_map[k, :, column] = stoichiometry[:, r]
            reduced_map[k] = np.outer(reduced_n[:, r], link[column])
        kwargs = dict(dtype=compiled.dtype, device=compiled.device)
        self.n_ode = n_ode
        self.n_independent = n_ind
        self.full_map = torch.tensor(full_map.reshape(n_slots, -1), **kwargs)
        self.reduced_map = torch.tensor(reduced_map.reshape(n_slots, -1), **kwargs)
        self.reduced_stoichiometry = torch.tensor(reduced_n, **kwargs)
        self.stoichiometry = torch.tensor(stoichiometry, **kwargs)

    def full(self, slot_elasticities: Tensor) -> Tensor:
        return (slot_elasticities @ self.full_map).view(-1, self.n_ode, self.n_ode)

    def reduced(self, slot_elasticities: Tensor) -> Tensor:
        return (slot_elasticities @ self.reduced_map).view(-1, self.n_independent, self.n_independent)
