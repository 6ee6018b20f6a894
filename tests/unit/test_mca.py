"""Metabolic control analysis on varma_strain_1: theorems and finite-difference responses to enzyme levels."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kinlatent.latent.mca import ControlAnalysis
from kinlatent.stability import find_steady_state

ENZYMES = ("GLCptspp", "PFK", "GAPD", "PYK", "ATPS4rpp")


@pytest.fixture(scope="module")
def control(steady1):
    from kinlatent.physiology import Physiology

    physiology = Physiology(steady1.model, steady1.concentrations, steady1.fluxes)
    oracle = physiology.oracle()
    return physiology, oracle, ControlAnalysis(oracle)


def test_summation_theorems_hold_to_1e_8(control):
    physiology, oracle, analysis = control
    reference = oracle.km_vector().unsqueeze(0)
    sampled = reference + torch.randn(4, reference.shape[1], generator=torch.Generator().manual_seed(0),
                                      dtype=torch.float64)
    coefficients = analysis.coefficients(torch.cat([reference, sampled]))
    assert torch.isfinite(coefficients.flux).all()
    assert (coefficients.flux.sum(dim=-1) - 1.0).abs().max() < 1e-8          # Σ_k C^{J_j}_k = 1
    assert coefficients.concentration.sum(dim=-1).abs().max() < 1e-8        # Σ_k C^{x_i}_k = 0


def test_connectivity_theorem_holds_to_1e_8(control):
    _, oracle, analysis = control
    flux, _, elasticity_link = analysis.unscaled(oracle.km_vector().unsqueeze(0))
    residual = (flux @ elasticity_link).abs()
    scale = flux.abs() @ elasticity_link.abs()                              # size of the terms that cancel
    assert float((residual / scale.clamp_min(1e-300)).max()) < 1e-8


def test_flux_control_equals_finite_difference_response_to_vmax(control, steady1):
    """C^{J_j}_{e_k} = d ln J_j / d ln vmax_k: central differences of new steady states (relative 1e-4)."""
    physiology, oracle, analysis = control
    model = physiology.model
    flux_cc = analysis.coefficients(oracle.km_vector().unsqueeze(0)).flux[0].numpy()
    step = 1e-5  # central differences: O(h²) error; C up to ~700 here (ATPS4rpp)
    for enzyme in ENZYMES:
        k = model.reaction_names.index(enzyme)
        name = model.reactions[k].parameter("vmax_forward")
        base = model.parameter(name)
        ln_j = []
        for sign in (+1, -1):
            perturbed = model.with_parameters({name: base * np.exp(sign * step)})
            state = find_steady_state(perturbed, steady1.concentrations, tolerance=1e-13)
            ln_j.append(np.log(np.abs(state.fluxes)))
        response = (ln_j[0] - ln_j[1]) / (2 * step)
        np.testing.assert_allclose(flux_cc[:, k], response, rtol=1e-4, atol=1e-4 * np.abs(response).max(),
                                   err_msg=f"FCC column of {enzyme}")
