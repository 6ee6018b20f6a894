"""ORACLE saturation sampling: the Km ↔ saturation relation, reproducibility across shardings, bounds."""
from __future__ import annotations

import numpy as np
import pytest

from kinlatent.exceptions import ConfigError
from kinlatent.physiology import Physiology
from kinlatent.sampling.saturation import SaturationConfig, SaturationSampler
from kinlatent.sampling.validation import STATUSES, validate


@pytest.fixture(scope="module")
def physiology(steady1):
    return Physiology(steady1.model, steady1.concentrations, steady1.fluxes)


def _site_concentrations(physiology, names):
    model = physiology.model
    lookup = {}
    for reaction in model.reactions:
        for slot in reaction.slots:
            lookup[reaction.parameter(slot.km_parameter_base)] = physiology.species_concentration(slot.species)
    return np.array([lookup[n] for n in names])


def test_saturations_are_uniform_in_range(physiology):
    sampler = SaturationSampler(physiology)
    ln_km = sampler.sample(0, 4000, seed=3)
    x = _site_concentrations(physiology, sampler.km_names)
    sigma = x / (x + np.exp(ln_km))          # σ = x/(x + Km), independent of how Km was built
    assert sigma.min() > 0 and sigma.max() < 1
    assert abs(sigma.mean() - 0.5) < 0.01 and abs(sigma.var() - 1 / 12) < 0.002


def test_same_rows_whatever_the_sharding(physiology):
    sampler = SaturationSampler(physiology)
    whole = sampler.sample(0, 1000, seed=7)
    pieces = np.vstack([sampler.sample(a, b, seed=7) for a, b in [(0, 1), (1, 300), (300, 513), (513, 1000)]])
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, sampler.sample(0, 1000, seed=8))


def test_bounds_and_fixed_values(physiology):
    name_a, name_b = physiology.model.km_parameter_names[:2]
    sampler = SaturationSampler(physiology, SaturationConfig(bounds={name_a: (0.2, 0.3)}, fixed_km={name_b: 42.0}))
    ln_km = sampler.sample(0, 500, seed=1)
    x = _site_concentrations(physiology, [name_a])[0]
    sigma_a = x / (x + np.exp(ln_km[:, 0]))
    assert sigma_a.min() >= 0.2 - 1e-12 and sigma_a.max() <= 0.3 + 1e-12
    assert np.allclose(np.exp(ln_km[:, 1]), 42.0)


@pytest.mark.parametrize("config, key", [
    (SaturationConfig(bounds={"km_nothing": (0.1, 0.2)}), "sampler.bounds.km_nothing"),
    (SaturationConfig(fixed_km={"km_nothing": 1.0}), "sampler.fixed_km.km_nothing"),
    (SaturationConfig(low=0.5, high=0.4), "sampler.saturation"),
])
def test_bad_sampler_settings(physiology, config, key):
    with pytest.raises(ConfigError) as info:
        SaturationSampler(physiology, config)
    assert info.value.key == key


def test_validation_status_and_labels(physiology):
    oracle = physiology.oracle()
    ln_km = SaturationSampler(physiology).sample(0, 300, seed=0)
    ln_km[5, 0] = np.nan
    result = validate(oracle, ln_km, threshold=-2.5)
    assert set(result.status) <= set(STATUSES)
    assert result.status[5] == "non_finite" and not result.valid[5]
    ok = result.status == "ok"
    assert np.array_equal(result.valid, ok & (result.lambda_max < -2.5))
    assert (result.lambda_max[result.status == "unstable"] >= 0).all()
    # labels are recomputed independently: λmax from the reduced Jacobian's eigenvalues in numpy
    keep = np.arange(20) != 5
    jac = oracle.reduced_jacobian(ln_km[:20][keep]).numpy()
    assert np.allclose(np.linalg.eigvals(jac).real.max(axis=1), result.lambda_max[:20][keep], rtol=1e-6, atol=1e-5)
