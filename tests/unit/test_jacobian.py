"""Reduced Jacobian and eigenvalues against finite differences; batching; the ORACLE ln Km → λmax map."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from kinlatent.ratelaws.compiled import CompiledRateLaws
from kinlatent.stability import JacobianAssembler, OracleStability


def _fd_full_jacobian(model, concentrations, step=1e-4):
    """d(N v)/dx over the ODE species by a 4th-order central stencil (independent of the analytic code)."""
    compiled = CompiledRateLaws(model)
    params = compiled.parameter_vector()
    ode = [model.species_index[s] for s in model.ode_species]
    base = torch.as_tensor(concentrations).unsqueeze(0)
    n = model.stoichiometry
    jac = np.zeros((len(ode), len(ode)))
    for col, j in enumerate(ode):
        total = np.zeros(model.n_reactions)
        for k, w in {2.0: -1.0, 1.0: 8.0, -1.0: -8.0, -2.0: 1.0}.items():
            moved = base.clone()
            moved[0, j] *= np.exp(k * step)
            terms = compiled.unit_terms(moved, params)
            # split into forward and backward parts to avoid cancellation near equilibrium
            total += w * (compiled.vmax(params) * terms.forward)[0].numpy()
            total -= w * (compiled.vmax(params) * terms.backward)[0].numpy()
        jac[:, col] = n @ total / (12 * step) / concentrations[j]
    return jac


def _matched_relative_error(a, b):
    cost = np.abs(a[:, None] - b[None, :])
    rows, cols = linear_sum_assignment(cost)
    return np.max(np.abs(a[rows] - b[cols]) / np.abs(a[rows]))


@pytest.mark.parametrize("which", ["steady1", "steady2"])
def test_reduced_eigenvalues_equal_nonzero_fd_eigenvalues(which, request):
    steady = request.getfixturevalue(which)
    model = steady.model
    full = _fd_full_jacobian(model, steady.concentrations)
    full_eigs = np.linalg.eigvals(full)
    n_dep = model.conservation.n_dependent
    nonzero = full_eigs[np.argsort(np.abs(full_eigs))[n_dep:]]
    zero = full_eigs[np.argsort(np.abs(full_eigs))[:n_dep]]
    compiled = CompiledRateLaws(model)
    params = compiled.parameter_vector()
    x = torch.as_tensor(steady.concentrations).unsqueeze(0)
    slots = compiled.slot_elasticities(x, compiled.unit_terms(x, params), compiled.vmax(params))
    reduced = JacobianAssembler(compiled, model.conservation).reduced(slots)[0].numpy()
    reduced_eigs = np.linalg.eigvals(reduced)
    assert reduced.shape == (43, 43)
    assert np.abs(zero).max() < 1e-6 * np.abs(nonzero).min() * 1e3
    assert _matched_relative_error(reduced_eigs, nonzero) < 1e-5


def test_full_jacobian_matches_fd(steady1):
    model = steady1.model
    compiled = CompiledRateLaws(model)
    params = compiled.parameter_vector()
    x = torch.as_tensor(steady1.concentrations).unsqueeze(0)
    slots = compiled.slot_elasticities(x, compiled.unit_terms(x, params), compiled.vmax(params))
    analytic = JacobianAssembler(compiled, model.conservation).full(slots)[0].numpy()
    fd = _fd_full_jacobian(model, steady1.concentrations)
    assert np.abs(analytic - fd).max() < 1e-6 * np.abs(analytic).max()


def test_oracle_at_published_km_reproduces_model(strain1, steady1, oracle1):
    ln_km = oracle1.km_vector()
    published_vmax = np.array([strain1.parameter(r.parameter("vmax_forward")) for r in strain1.reactions])
    assert np.allclose(oracle1.vmax(ln_km)[0].numpy(), published_vmax, rtol=1e-8)
    fd_eigs = np.linalg.eigvals(_fd_full_jacobian(strain1, steady1.concentrations))
    fd_lambda_max = max(e.real for e in fd_eigs if abs(e) > 1e-3)
    assert oracle1.lambda_max(ln_km).item() == pytest.approx(fd_lambda_max, rel=1e-5)


def test_batched_reduced_jacobian_equals_one_at_a_time(oracle1):
    ln_km = oracle1.km_vector() + torch.as_tensor(np.random.default_rng(11).normal(0.0, 1.0, (9, oracle1.n_km)))
    batched = oracle1.reduced_jacobian(ln_km)
    single = torch.cat([oracle1.reduced_jacobian(ln_km[i:i + 1]) for i in range(9)])
    assert torch.allclose(batched, single, rtol=1e-12, atol=0)
    lam = oracle1.lambda_max(ln_km, chunk_size=4)
    # ‖J_r‖ ~ 1e11 1/h while λmax ~ −1…−50: LAPACK's backward error eps·‖J‖ bounds agreement near 1e-7
    assert torch.allclose(lam, torch.cat([oracle1.lambda_max(ln_km[i]) for i in range(9)]), rtol=1e-6, atol=1e-5)


def test_oracle_random_sets_match_fd_of_their_own_model(strain1, steady1, oracle1):
    """Turn ORACLE sets into full parameterizations and check λmax against an FD Jacobian of that model."""
    ln_km = oracle1.km_vector() + torch.as_tensor(np.random.default_rng(11).normal(0.0, 1.0, (3, oracle1.n_km)))
    lam = oracle1.lambda_max(ln_km).numpy()
    for row, values in enumerate(oracle1.parameter_dict(ln_km)):
        model = strain1.with_parameters(values)
        eigs = np.linalg.eigvals(_fd_full_jacobian(model, steady1.concentrations))
        nonzero = eigs[np.argsort(np.abs(eigs))[strain1.conservation.n_dependent:]]
        assert lam[row] == pytest.approx(nonzero.real.max(), rel=1e-5, abs=1e-4)


@pytest.mark.parametrize("seed", [0, 5])
def test_lambda_max_is_differentiable(oracle1, seed):
    # at the published Km the leading eigenvalue (−15.7 1/h) is simple and well separated (next: −27.5 ± 27i)
    ln_km = oracle1.km_vector().unsqueeze(0).clone().requires_grad_(True)
    lam = oracle1.lambda_max(ln_km)
    (grad,) = torch.autograd.grad(lam.sum(), ln_km)
    direction = torch.as_tensor(np.random.default_rng(seed).normal(size=oracle1.n_km)).unsqueeze(0)
    direction /= direction.norm()
    h = 5e-2  # eigenvalues carry ~1e-6 absolute noise (‖J_r‖ ~ 1e11): a wide 4th-order stencil averages it out
    with torch.no_grad():
        values = {k: oracle1.lambda_max(ln_km + k * h * direction).item() for k in (-2, -1, 1, 2)}
    fd = (-values[2] + 8 * values[1] - 8 * values[-1] + values[-2]) / (12 * h)
    assert abs(fd) > 1e-3
    assert (grad * direction).sum().item() == pytest.approx(fd, rel=1e-3)


def test_inconsistent_flux_sign_is_flagged(strain1, steady1):
    fluxes = steady1.fluxes.copy()
    atpm = strain1.reaction_names.index("ATPM")  # irreversible: a negative flux cannot be reached
    fluxes[atpm] = -abs(fluxes[atpm])
    oracle = OracleStability(strain1, steady1.concentrations, fluxes)
    result = oracle.evaluate(oracle.km_vector())
    assert not bool(result.consistent[0])


def test_non_finite_sets_give_nan_not_an_exception(oracle1):
    ln_km = oracle1.km_vector().unsqueeze(0).repeat(3, 1)
    ln_km[1, 0] = float("nan")
    lam = oracle1.lambda_max(ln_km)
    assert torch.isnan(lam[1]) and torch.isfinite(lam[[0, 2]]).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_oracle_on_cuda_matches_cpu(strain1, steady1, oracle1):
    gpu = OracleStability(strain1, steady1.concentrations, steady1.fluxes, device="cuda")
    ln_km = oracle1.km_vector() + torch.as_tensor(np.random.default_rng(3).normal(0.0, 1.0, (64, oracle1.n_km)))
    on_gpu = gpu.lambda_max(ln_km.cuda()).cpu()
    assert torch.allclose(on_gpu, oracle1.lambda_max(ln_km), rtol=1e-6, atol=1e-5)
