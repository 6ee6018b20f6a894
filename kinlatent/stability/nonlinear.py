"""Nonlinear stability check: perturb the steady state, integrate, require return to within a tolerance.

Only the independent species are perturbed (by factors drawn log-uniformly in [low, high]); dependent ones
follow from the conserved moiety totals so that the perturbed state can return to x* itself. A perturbation
that would make a dependent species non-positive is shrunk towards x* until it does not.
"""
from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp

from kinlatent.physiology import Physiology
from kinlatent.stability.steady_state import OdeSystem


def _perturbed_state(physiology: Physiology, system: OdeSystem, rng: np.random.Generator,
                     low: float, high: float) -> np.ndarray:
    conservation = physiology.model.conservation
    x_star = system.x_all[system.ode]
    independent = np.array(conservation.independent)
    factors = np.exp(rng.uniform(np.log(low), np.log(high), independent.size))
    for _ in range(60):
        delta_ind = x_star[independent] * (factors - 1.0)
        x = x_star + conservation.link_matrix @ delta_ind
        if (x > 0).all():
            return x
        factors = 1.0 + 0.5 * (factors - 1.0)
    return x_star.copy()


class _BudgetExceeded(Exception):
    pass


def returns_to_steady_state(physiology: Physiology, ln_km: np.ndarray, *, seed: int, factor_low: float = 0.5,
                            factor_high: float = 2.0, horizon_h: float = 5.0, tolerance: float = 0.01,
                            max_evaluations: int = 5000) -> np.ndarray:
    """For each ln Km row: does the model come back within ``tolerance`` (relative) of x* by ``horizon_h``?

    Integration of a row stops (counted as not returning) after ``max_evaluations`` right-hand-side calls:
    some sampled models are so stiff that BDF would otherwise take minutes.
    """
    oracle = physiology.oracle()
    results = np.zeros(len(ln_km), dtype=bool)
    rng = np.random.default_rng(seed)
    for row, values in enumerate(oracle.parameter_dict(ln_km)):
        if not all(np.isfinite(v) and v >= 0 for v in values.values()):
            continue
        model = physiology.model.with_parameters(values)
        system = OdeSystem(model, physiology.concentrations)
        x_star = system.x_all[system.ode]
        x0 = _perturbed_state(physiology, system, rng, factor_low, factor_high)
        calls = [0]

        def rhs(t: float, y: np.ndarray, system: OdeSystem = system, calls: list = calls) -> np.ndarray:
            calls[0] += 1
            if calls[0] > max_evaluations:
                raise _BudgetExceeded
            return system.log_rhs(t, y)

        try:
            solution = solve_ivp(rhs, (0.0, horizon_h), np.log(x0), method="BDF", jac=system.log_jacobian,
                                 rtol=1e-6, atol=1e-9)
        except _BudgetExceeded:
            continue
        if solution.success and np.isfinite(solution.y[:, -1]).all():
            results[row] = np.abs(np.exp(solution.y[:, -1]) / x_star - 1.0).max() < tolerance
    return results
