"""Generator surgery for transfer: folds equal the original computation; shifted output keeps saturations;
conditions are built and checked against independent computations on varma_strain_1."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
from kinlatent.transfer.generator_ops import fit_latent_prior, shifted, unconditional, with_latent_prior


def _generator(n_conditions: int = 0, normalisation: str = "batch") -> MLPGenerator:
    torch.manual_seed(1)
    spec = GeneratorSpec(n_outputs=7, latent_dim=5, widths=(16, 8), normalisation=normalisation, dropout=0.2,
                         n_conditions=n_conditions)
    generator = MLPGenerator(spec, -torch.rand(7) * 4 - 1, torch.rand(7) * 4 + 1)
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm1d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
    return generator.eval()


@pytest.mark.parametrize("condition", [0, 1])
def test_folding_the_condition_equals_the_conditional_generator(condition):
    generator = _generator(n_conditions=2)
    z = torch.randn(64, 5)
    one_hot = torch.nn.functional.one_hot(torch.full((64,), condition), 2)
    plain = unconditional(generator, condition)
    assert plain.spec.n_conditions == 0 and plain.spec.widths == generator.spec.widths
    torch.testing.assert_close(plain(z), generator(z, one_hot))


def test_latent_prior_fold_equals_the_transformed_input():
    generator = _generator(normalisation="none")
    rng = np.random.default_rng(0)
    mean, factor = rng.normal(size=5), np.tril(rng.normal(size=(5, 5)))
    z = torch.randn(50, 5)
    expected = generator(torch.as_tensor(mean, dtype=torch.float32) + z @ torch.as_tensor(factor.T,
                                                                                          dtype=torch.float32))
    torch.testing.assert_close(with_latent_prior(generator, mean, factor)(z), expected, rtol=1e-5, atol=1e-5)


def test_fitted_prior_recovers_a_known_gaussian():
    rng = np.random.default_rng(3)
    true_mean = np.array([1.0, -2.0, 0.5])
    true_factor = np.array([[1.0, 0.0, 0.0], [0.5, 0.3, 0.0], [0.0, 0.2, 0.4]])
    z = true_mean + rng.standard_normal((400_000, 3)) @ true_factor.T  # standard error ≈ 0.002
    mean, factor = fit_latent_prior(z, shrinkage=0.0)
    np.testing.assert_allclose(mean, true_mean, atol=0.01)
    np.testing.assert_allclose(factor @ factor.T, true_factor @ true_factor.T, atol=0.01)


def test_shifted_generator_keeps_every_saturation(physiology1):
    """Saturation x/(x + Km) of each site, computed by hand from concentrations, is unchanged by the shift."""
    model = physiology1.model
    n_km = len(model.km_parameter_names)
    torch.manual_seed(0)
    generator = MLPGenerator(GeneratorSpec(n_outputs=n_km, latent_dim=4, widths=(8,), normalisation="none",
                                           dropout=0.0), -torch.ones(n_km) * 3, torch.ones(n_km) * 8)
    rng = np.random.default_rng(5)
    new_x = physiology1.concentrations * np.exp(rng.normal(scale=0.7, size=len(physiology1.concentrations)))
    index = model.species_index
    x_source = np.array([physiology1.concentrations[index[s]] for s in model.km_species])
    x_target = np.array([new_x[index[s]] for s in model.km_species])
    moved = shifted(generator, np.log(x_target) - np.log(x_source))
    z = torch.randn(30, 4)
    with torch.no_grad():
        km_source, km_target = np.exp(generator(z).double().numpy()), np.exp(moved(z).double().numpy())
    np.testing.assert_allclose(x_target / (x_target + km_target), x_source / (x_source + km_source), rtol=1e-5)


def test_km_species_are_the_bound_reactants(strain1):
    """km_substrate1_PGI binds g6p_c (PGI: g6p_c <=> f6p_c): the mapping read off the model file."""
    names = strain1.km_parameter_names
    assert len(strain1.km_species) == len(names)
    assert strain1.km_species[names.index("km_substrate_PGI")] == "g6p_c"
    assert strain1.km_species[names.index("km_product_PGI")] == "f6p_c"


def test_conditions_move_the_steady_state_as_the_perturbation_says(physiology1, shared_models):
    from kinlatent.stability import find_steady_state
    from kinlatent.transfer.conditions import build_condition, parse_condition

    pgi = build_condition(parse_condition({"name": "pgi_half", "vmax_scale": {"PGI": 0.5}}, "c"), physiology1)
    perturbed = physiology1.model.with_parameters(
        {"vmax_forward_PGI": 0.5 * physiology1.model.parameter("vmax_forward_PGI")})
    independent = find_steady_state(perturbed, physiology1.concentrations)
    np.testing.assert_allclose(pgi.physiology.fluxes, independent.fluxes, rtol=1e-6, atol=1e-9)
    assert pgi.flux_shift == pytest.approx(np.linalg.norm(independent.fluxes - physiology1.fluxes)
                                           / np.linalg.norm(physiology1.fluxes))
    assert pgi.flux_shift > 0.01 and pgi.reference_lambda_max < 0
    index = physiology1.model.reaction_names.index("PGI")
    assert abs(pgi.physiology.fluxes[index]) < abs(physiology1.fluxes[index])  # less flux through the knock-down
    strain2 = build_condition(parse_condition("varma_strain_2", "c"), physiology1)
    gapd = physiology1.model.reaction_names.index("GAPD")
    assert strain2.physiology.model.parameter("vmax_forward_GAPD") == pytest.approx(
        2 * physiology1.model.parameter("vmax_forward_GAPD"))
    assert strain2.flux_shift > 0.01 and strain2.physiology.fluxes[gapd] != pytest.approx(physiology1.fluxes[gapd])
    np.testing.assert_allclose(strain2.km_shift, strain2.physiology.km_log_concentrations()
                               - physiology1.km_log_concentrations())
    assert not math.isclose(float(np.abs(strain2.km_shift).max()), 0.0)
