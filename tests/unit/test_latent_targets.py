"""Targets and property names: parsing, clear errors for bad targets, window arithmetic."""
from __future__ import annotations

import math

import pytest
import torch

from kinlatent.exceptions import ConfigError
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.targets import Window, parse_target


@pytest.fixture(scope="module")
def evaluator(physiology1):
    return PropertyEvaluator(physiology1)


@pytest.mark.parametrize("config, key, fragment", [
    ({"windows": {"lambda_maxx": [-12, -8]}}, "target.windows.lambda_maxx", "lambda_max, time_constant"),
    ({"windows": {"lambda_max": [-8, -12]}}, "target.windows.lambda_max", "empty window"),
    ({"windows": {"lambda_max": [-8, -8]}}, "target.windows.lambda_max", "empty window"),
    ({"windows": {"lambda_max": [-8]}}, "target.windows.lambda_max", "[low, high]"),
    ({"windows": {"lambda_max": ["a", -8]}}, "target.windows.lambda_max", "numbers or null"),
    ({"windows": {"fcc:GLCptspp:NOPE": [0, 1]}}, "target.windows.fcc:GLCptspp:NOPE", "PFK"),
    ({"windows": {"ccc:nope_c:PFK": [0, 1]}}, "target.windows.ccc:nope_c:PFK", "g6p_c"),
    ({"top_controller": {"flux": "GLCptspp", "enzyme": "XYZ"}}, "target.top_controller", "not a reaction"),
    ({"top_controller": {"flux": "NOFLUX", "enzyme": "PFK"}}, "target.top_controller", "GLCptspp"),
    ({"top_controller": {"flux": "GLCptspp"}}, "target.top_controller", "{flux: REACTION"),
    ({}, "target", "at least one window"),
    ({"windows": {"lambda_max": [-12, -8]}, "colour": 1}, "target.colour", "unknown target key"),
    ({"windows": {"lambda_max": [-12, -8]}, "margin": 0.7}, "target.margin", "margin"),
    (None, "target", "mapping"),
])
def test_bad_targets_are_refused_naming_the_key_and_valid_names(evaluator, config, key, fragment):
    with pytest.raises(ConfigError) as error:
        parse_target(config, evaluator)
    assert error.value.key == key and fragment in str(error.value)


def test_open_windows_and_implied_stability(evaluator):
    target = parse_target({"windows": {"time_constant": [0.1, None]}}, evaluator)
    assert target.windows[0].high == math.inf and target.stable
    assert [p.text for p in target.properties] == ["time_constant", "lambda_max"]


def test_window_violation_is_zero_inside_and_grows_linearly_outside(evaluator):
    window = Window(evaluator.parse("lambda_max"), -12.0, -8.0)
    values = torch.tensor([-10.0, -12.0, -8.0, -7.0, -14.0, float("nan")])
    assert window.satisfied(values).tolist() == [True, True, True, False, False, False]
    violation = window.violation(values, margin=0.0)
    assert violation[:3].tolist() == [0.0, 0.0, 0.0]
    assert violation[3].item() == pytest.approx(1.0 / 4.0) and violation[4].item() == pytest.approx(2.0 / 4.0)
    # margin 2 % of the width (0.08) pulls the search inside: -8.05 is 0.03 beyond -8.08
    assert window.violation(torch.tensor([-8.05], dtype=torch.float64), margin=0.02).item() == pytest.approx(0.03 / 4.0)


def test_spectral_properties_match_numpy_eigenvalues(evaluator, oracle1):
    import numpy as np

    ln_km = oracle1.km_vector().unsqueeze(0) + 0.3 * torch.randn(3, oracle1.n_km, dtype=torch.float64,
                                                                 generator=torch.Generator().manual_seed(2))
    values = evaluator.spectrum(ln_km)
    for row in range(3):
        eig = np.linalg.eigvals(oracle1.reduced_jacobian(ln_km[row:row + 1])[0].numpy())
        dominant = eig[np.argmax(eig.real)]
        assert values["lambda_max"][row].item() == pytest.approx(eig.real.max(), rel=1e-6)
        assert values["time_constant"][row].item() == pytest.approx(-1.0 / eig.real.max(), rel=1e-6)
        assert values["lambda_min"][row].item() == pytest.approx(eig.real.min(), rel=1e-6)
        assert values["oscillation"][row].item() == pytest.approx(abs(dominant.imag), rel=1e-6, abs=1e-6)
        assert values["stiffness"][row].item() == pytest.approx(np.abs(eig.real).max() / np.abs(eig.real).min(),
                                                                rel=1e-6)


def test_lambda_max_gradient_matches_finite_differences(evaluator, oracle1):
    ln_km = oracle1.km_vector().unsqueeze(0).clone().requires_grad_(True)
    value = evaluator.evaluate(["lambda_max"], ln_km)["lambda_max"].sum()
    (gradient,) = torch.autograd.grad(value, ln_km)
    # J_r is ill-conditioned (elasticities up to ~1e10), so eigenvalues carry ~1e-6 noise: central differences
    # need a step of 1e-2 (their O(h²) error is then ~1e-3 relative)
    for column in (0, 101):
        step = torch.zeros_like(ln_km)
        step[0, column] = 1e-2
        with torch.no_grad():
            plus = evaluator.evaluate(["lambda_max"], ln_km + step)["lambda_max"].item()
            minus = evaluator.evaluate(["lambda_max"], ln_km - step)["lambda_max"].item()
        assert gradient[0, column].item() == pytest.approx((plus - minus) / 2e-2, rel=2e-3)


def test_text_constraints_from_the_command_line(evaluator):
    from kinlatent.hydra_app import compose_config

    config = compose_config("explore", ["+target.constraints=[\"fcc:GLCptspp:PFK >= 0.5\", 'stiffness <= 1e6']"])
    from omegaconf import OmegaConf

    target = parse_target(OmegaConf.to_container(config.target), evaluator)
    windows = {w.prop.text: (w.low, w.high) for w in target.windows}
    assert windows == {"lambda_max": (-12.0, -8.0), "fcc:GLCptspp:PFK": (0.5, math.inf),
                       "stiffness": (-math.inf, 1e6)}
    both = parse_target({"constraints": ["time_constant in [0.1, null]"]}, evaluator)
    assert (both.windows[0].low, both.windows[0].high) == (0.1, math.inf)
    with pytest.raises(ConfigError, match="expected 'PROPERTY >= a'") as error:
        parse_target({"constraints": ["lambda_max ~ 3"]}, evaluator)
    assert error.value.key == "target.constraints[0]"
    with pytest.raises(ConfigError, match="constrained twice"):
        parse_target({"windows": {"lambda_max": [-3, -1]}, "constraints": ["lambda_max <= -2"]}, evaluator)
