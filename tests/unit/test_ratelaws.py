"""Rate laws: published fluxes, independent formulas per mechanism, elasticities vs finite differences."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kinlatent.model.state import state_vector
from kinlatent.ratelaws import RATE_LAWS, RateInputs
from kinlatent.ratelaws.compiled import CompiledRateLaws


def test_published_fluxes_reproduced(strain1, reference_state):
    compiled = CompiledRateLaws(strain1)
    x = torch.as_tensor(state_vector(reference_state, strain1)).unsqueeze(0)
    v = compiled.rates(x, compiled.parameter_vector())[0].numpy()
    published = np.array([reference_state.fluxes[r] for r in strain1.reaction_names])
    assert len(reference_state.fluxes) == strain1.n_reactions
    significant = np.abs(published) > 1e-9 * np.abs(published).max()
    relative = np.abs(v - published)[significant] / np.abs(published)[significant]
    assert relative.max() < 1e-6, dict(zip(np.array(strain1.reaction_names)[significant], relative))
    assert np.linalg.norm(strain1.stoichiometry @ v) / np.linalg.norm(v) < 1e-9


# ---- each mechanism against the formulas of RATE_LAWS.md, written independently in numpy ------------------
def _reference(name, s, p, ks, kp, k, h, nu_s, nu_p):
    """(v_fwd, v_bwd) with V = 1 for one reaction."""
    if name == "ReversibleMichaelisMenten":
        d = 1 + s[0] / ks[0] + p[0] / kp[0]
        return (s[0] / ks[0]) / d, (p[0] / ks[0]) / (k * d)
    if name == "IrrevMichaelisMenten":
        return np.prod(s / (s + ks)), 0.0
    if name == "Convenience":
        dsub = np.prod([sum((si / ki) ** a for a in range(int(n) + 1)) for si, ki, n in zip(s, ks, nu_s)])
        dprod = np.prod([sum((pj / kj) ** b for b in range(int(n) + 1)) for pj, kj, n in zip(p, kp, nu_p)])
        d = dsub + dprod - 1
        return np.prod((s / ks) ** nu_s) / d, np.prod(ks ** -nu_s) * np.prod(p ** nu_p) / (k * d)
    if name == "H1GeneralizedReversibleHill":
        d = np.prod(1 + s / ks + p / kp)
        return np.prod(s / ks) / d, np.prod(p) / np.prod(ks) / (k * d)
    if name == "UniBiReversibleHill":
        (s1,), (p1, p2), (k1,), (kp1, kp2) = s, p, ks, kp
        hill = (s1 / k1 + p1 / kp1 * p2 / kp2) ** (h - 1)
        d = 1 + (s1 / k1 + p1 / kp1) ** h + (s1 / k1 + p2 / kp2) ** h + (s1 / k1 + p1 / kp1 * p2 / kp2) ** h \
            - 2 * s1 / k1 ** h
        return s1 / k1 * hill / d, p1 * p2 * hill / (k * k1 * d)
    if name == "BiUniReversibleHill":
        (s1, s2), (p1,), (k1, k2), (kp1,) = s, p, ks, kp
        hill = (s1 / k1 * s2 / k2 + p1 / kp1) ** (h - 1)
        d = 1 + (s1 / k1 + p1 / kp1) ** h + (s2 / k2 + p1 / kp1) ** h + (s1 / k1 * s2 / k2 + p1 / kp1) ** h \
            - 2 * p1 / kp1 ** h
        return s1 / k1 * s2 / k2 * hill / d, p1 * hill / (k * k1 * k2 * d)
    if name == "RevMassaction":
        return np.prod(s), np.prod(p) / k
    raise AssertionError(name)


SHAPES = {
    "ReversibleMichaelisMenten": (1, 1), "IrrevMichaelisMenten": (3, 2), "Convenience": (2, 3),
    "H1GeneralizedReversibleHill": (3, 3), "UniBiReversibleHill": (1, 2), "BiUniReversibleHill": (2, 1),
    "RevMassaction": (2, 2),
}


def _inputs(name, rng, batch, hill):
    ns, np_ = SHAPES[name]
    g = 4
    t = lambda a: torch.as_tensor(a)  # noqa: E731
    nu_s = np.where(rng.random((g, ns)) < 0.5, 1.0, 2.0) if name == "Convenience" else np.ones((g, ns))
    nu_p = np.where(rng.random((g, np_)) < 0.5, 1.0, 2.0) if name == "Convenience" else np.ones((g, np_))
    return RateInputs(
        s=t(np.exp(rng.normal(0, 2, (batch, g, ns)))), p=t(np.exp(rng.normal(0, 2, (batch, g, np_)))),
        km_s=t(np.exp(rng.normal(0, 2, (batch, g, ns)))), km_p=t(np.exp(rng.normal(0, 2, (batch, g, np_)))),
        keq=t(np.exp(rng.normal(0, 2, (batch, g)))), hill=t(np.full((batch, g), hill)),
        nu_s=t(nu_s), nu_p=t(nu_p),
    )


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("hill", [1.0, 1.7])
def test_mechanism_matches_reference_formula(name, hill):
    assert name in RATE_LAWS
    inputs = _inputs(name, np.random.default_rng(1), batch=5, hill=hill)
    out = RATE_LAWS[name].unit_rates(inputs)
    arr = {k: v.numpy() for k, v in inputs._asdict().items()}
    for b in range(5):
        for g in range(4):
            fwd, bwd = _reference(name, arr["s"][b, g], arr["p"][b, g], arr["km_s"][b, g], arr["km_p"][b, g],
                                  arr["keq"][b, g], arr["hill"][b, g], arr["nu_s"][g], arr["nu_p"][g])
            assert out.forward[b, g].item() == pytest.approx(fwd, rel=1e-12)
            assert out.backward[b, g].item() == pytest.approx(bwd, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("hill", [1.0, 1.7])
def test_mechanism_log_derivatives_match_finite_differences(name, hill):
    """a·∂ln a/∂ln x against central differences of a in ln x (a itself: SKiMpy's Hill denominator can turn
    negative for h ≠ 1, so logs of the rates are not taken)."""
    inputs = _inputs(name, np.random.default_rng(2), batch=3, hill=hill)
    out = RATE_LAWS[name].unit_rates(inputs)
    step = 1e-6
    for which, analytic_f, analytic_b in (("s", out.dlnf_dlns, out.dlnb_dlns), ("p", out.dlnf_dlnp, out.dlnb_dlnp)):
        base = getattr(inputs, which)
        for slot in range(base.shape[-1]):
            values = []
            for sign in (1.0, -1.0):
                moved = base.clone()
                moved[..., slot] *= np.exp(sign * step)
                values.append(RATE_LAWS[name].unit_rates(inputs._replace(**{which: moved})))
            for fd, rate, analytic in (
                ((values[0].forward - values[1].forward) / (2 * step), out.forward, analytic_f),
                ((values[0].backward - values[1].backward) / (2 * step), out.backward, analytic_b),
            ):
                expected = rate * analytic[..., slot]
                scale = rate.abs().clamp_min(1e-300)
                assert float(((expected - fd).abs() / scale).max()) < 1e-6


# ---- whole-model elasticities vs central finite differences ------------------------------------------------
def _finite_difference_elasticities(compiled, x, params, step=1e-3):
    """∂v/∂x by a 4th-order central stencil in ln x. v = vmax·(f − b) is differentiated through f and b
    separately: near equilibrium f ≈ b ≫ v and differencing v itself would lose the digits to cancellation."""
    n_species = x.shape[1]
    batch = max(x.shape[0], params.shape[0])
    vmax = compiled.vmax(params)
    fd = torch.zeros((batch, compiled.model.n_reactions, n_species), dtype=torch.float64)
    weights = {2.0: -1.0, 1.0: 8.0, -1.0: -8.0, -2.0: 1.0}
    for j in range(n_species):
        d_forward = torch.zeros((batch, compiled.model.n_reactions), dtype=torch.float64)
        d_backward = torch.zeros_like(d_forward)
        for k, w in weights.items():
            moved = x.clone()
            moved[:, j] *= np.exp(k * step)
            terms = compiled.unit_terms(moved, params)
            d_forward += w * terms.forward
            d_backward += w * terms.backward
        # d/d ln x  →  d/dx
        fd[:, :, j] = vmax * (d_forward - d_backward) / (12 * step) / x[:, j:j + 1]
    return fd


def _assert_rows_close(analytic, fd, x, rel=1e-6):
    """Per reaction, max |error| relative to the row's largest entry, in x-scaled units (∂v/∂ln x) so that
    species with tiny concentrations do not dominate the comparison."""
    analytic, fd = analytic * x.unsqueeze(1), fd * x.unsqueeze(1)
    scale = analytic.abs().amax(dim=-1, keepdim=True).clamp_min(1e-300)
    error = ((analytic - fd).abs() / scale).amax(dim=-1)
    assert float(error.max()) < rel, float(error.max())


def test_elasticities_match_finite_differences_at_steady_state(strain1, steady1):
    compiled = CompiledRateLaws(strain1)
    x = torch.as_tensor(steady1.concentrations).unsqueeze(0)
    params = compiled.parameter_vector().unsqueeze(0)
    _assert_rows_close(compiled.elasticities(x, params), _finite_difference_elasticities(compiled, x, params), x)


def test_elasticities_match_finite_differences_at_random_km(strain1, oracle1):
    ln_km = oracle1.km_vector() + torch.as_tensor(np.random.default_rng(11).normal(0.0, 1.5, (100, oracle1.n_km)))
    params = oracle1.parameters(ln_km)
    params[:, oracle1.compiled.vmax_index] = oracle1.vmax(ln_km)
    x = oracle1.concentrations
    compiled = oracle1.compiled
    # vmax recomputed: the rates at x* are the steady-state fluxes for every set
    assert torch.allclose(compiled.rates(x, params), oracle1.fluxes.expand(100, -1), rtol=1e-10)
    _assert_rows_close(compiled.elasticities(x, params), _finite_difference_elasticities(compiled, x, params), x)


def test_batch_equals_one_at_a_time(oracle1):
    ln_km = oracle1.km_vector() + torch.as_tensor(np.random.default_rng(11).normal(0.0, 1.0, (7, oracle1.n_km)))
    params = oracle1.parameters(ln_km)
    params[:, oracle1.compiled.vmax_index] = oracle1.vmax(ln_km)
    x = oracle1.concentrations
    batched = oracle1.compiled.rates(x, params)
    single = torch.cat([oracle1.compiled.rates(x, params[i:i + 1]) for i in range(7)])
    assert torch.equal(batched, single) or torch.allclose(batched, single, rtol=1e-14)
