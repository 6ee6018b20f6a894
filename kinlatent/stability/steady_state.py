"""Steady states of fully parameterized models: stiff integration with the analytic Jacobian, Newton polish.

The ODE is integrated in log-concentrations (y = ln x keeps x > 0) with scipy's BDF until the relative
residual ‖N v‖/‖v‖ is small, then Newton steps on the independent species (dependent ones follow from the
conserved moiety totals) drive it below the tolerance. Failure raises :class:`SteadyStateError`.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import torch
from scipy.integrate import solve_ivp

from kinlatent.exceptions import SteadyStateError
from kinlatent.model.kinetic_model import KineticModel
from kinlatent.model.state import PhysiologicalState, state_vector
from kinlatent.ratelaws.compiled import CompiledRateLaws
from kinlatent.stability.jacobian import JacobianAssembler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SteadyState:
    """A steady state: concentrations of all species (µM), fluxes (µM/h) and the relative residual."""

    model: KineticModel
    concentrations: np.ndarray
    fluxes: np.ndarray
    residual: float
    integration_time: float
    newton_iterations: int

    def concentration_dict(self) -> dict[str, float]:
        return dict(zip(self.model.species, self.concentrations.tolist()))

    def flux_dict(self) -> dict[str, float]:
        return dict(zip(self.model.reaction_names, self.fluxes.tolist()))

    def as_state(self) -> PhysiologicalState:
        return PhysiologicalState(self.concentration_dict(), self.flux_dict(), source=self.model.source,
                                  label=f"steady state of {self.model.name}")


class OdeSystem:
    """dx/dt = N v(x) over ODE species with its analytic Jacobian, numpy in and out (B = 1)."""

    def __init__(self, model: KineticModel, x_all: np.ndarray) -> None:
        self.model = model
        self.compiled = CompiledRateLaws(model)
        self.params = self.compiled.parameter_vector()
        self.assembler = JacobianAssembler(self.compiled, model.conservation)
        self.ode = np.array([model.species_index[s] for s in model.ode_species])
        self.x_all = np.array(x_all, dtype=float)
        self.deadline: float | None = None   # perf_counter time after which integration gives up

    def full(self, x_ode: np.ndarray) -> torch.Tensor:
        x = self.x_all.copy()
        x[self.ode] = x_ode
        return torch.as_tensor(x).unsqueeze(0)

    def rates(self, x_ode: np.ndarray) -> np.ndarray:
        return self.compiled.rates(self.full(x_ode), self.params)[0].numpy()

    def slots(self, x_ode: np.ndarray) -> torch.Tensor:
        x = self.full(x_ode)
        terms = self.compiled.unit_terms(x, self.params)
        return self.compiled.slot_elasticities(x, terms, self.compiled.vmax(self.params))

    def jacobian(self, x_ode: np.ndarray) -> np.ndarray:
        return self.assembler.full(self.slots(x_ode))[0].numpy()

    def reduced_jacobian(self, x_ode: np.ndarray) -> np.ndarray:
        return self.assembler.reduced(self.slots(x_ode))[0].numpy()

    def log_rhs(self, _t: float, y: np.ndarray) -> np.ndarray:
        """d ln x/dt at y = ln x (ODE species)."""
        if self.deadline is not None and time.perf_counter() > self.deadline:
            raise _OutOfTime
        x = np.exp(y)
        return (self.model.stoichiometry @ self.rates(x)) / x

    def log_jacobian(self, _t: float, y: np.ndarray) -> np.ndarray:
        """∂(d ln x/dt)/∂ ln x = diag(1/x)·J·diag(x) − diag(d ln x/dt)."""
        x = np.exp(y)
        f = (self.model.stoichiometry @ self.rates(x)) / x
        return self.jacobian(x) * x[None, :] / x[:, None] - np.diag(f)

    def relative_residual(self, x_ode: np.ndarray) -> float:
        v = self.rates(x_ode)
        return float(np.linalg.norm(self.model.stoichiometry @ v) / max(np.linalg.norm(v), 1e-300))


class _OutOfTime(Exception):
    """The integration's wall-clock budget is spent (raised inside the ODE right-hand side)."""


def relative_residual(model: KineticModel, concentrations: np.ndarray) -> float:
    """‖N v‖/‖v‖ of a model at the given concentrations of all species."""
    system = OdeSystem(model, concentrations)
    return system.relative_residual(system.x_all[system.ode])


def _integrate(system: OdeSystem, x0: np.ndarray, t_max: float, switch_tolerance: float) -> tuple[np.ndarray, float]:
    y, t, horizon = np.log(x0), 0.0, 1e-3
    while system.relative_residual(np.exp(y)) > switch_tolerance:
        if t >= t_max:
            raise SteadyStateError(
                f"no steady state reached by t = {t_max:g} h (relative residual "
                f"{system.relative_residual(np.exp(y)):.2e})", source=system.model.source, key="steady_state")
        end = min(t + horizon, t_max)
        try:
            solution = solve_ivp(system.log_rhs, (t, end), y, method="BDF", jac=system.log_jacobian, rtol=1e-8,
                                 atol=1e-10)
        except _OutOfTime:
            raise SteadyStateError(f"no steady state found within the time limit (integrated to t = {t:g} h, "
                                   f"relative residual {system.relative_residual(np.exp(y)):.2e})",
                                   source=system.model.source, key="steady_state") from None
        except (ValueError, np.linalg.LinAlgError, FloatingPointError) as error:
            raise SteadyStateError(f"integration failed at t = {t:g} h: {error} (check the initial concentrations "
                                   "and the parameters)", source=system.model.source, key="steady_state") from error
        if not solution.success or not np.isfinite(solution.y[:, -1]).all():
            raise SteadyStateError(f"integration failed at t = {t:g} h: {solution.message}",
                                   source=system.model.source, key="steady_state")
        y, t, horizon = solution.y[:, -1], end, horizon * 10.0
        logger.debug("integrated to t = %g h, residual %.2e", t, system.relative_residual(np.exp(y)))
    return np.exp(y), t


def _newton(system: OdeSystem, x: np.ndarray, tolerance: float, max_iterations: int) -> tuple[np.ndarray, int]:
    conservation = system.model.conservation
    independent = np.array(conservation.independent)
    reduced_n = system.model.stoichiometry[independent]
    x = x.copy()
    residual = system.relative_residual(x)
    for iteration in range(1, max_iterations + 1):
        if residual < tolerance:
            return x, iteration - 1
        f = reduced_n @ system.rates(x)
        try:
            step = np.linalg.solve(system.reduced_jacobian(x), -f)
        except np.linalg.LinAlgError as error:
            raise SteadyStateError(f"singular reduced Jacobian in Newton step: {error}",
                                   source=system.model.source, key="steady_state") from error
        full_step = conservation.link_matrix @ step
        shrink = np.where(full_step < 0, -0.9 * x / np.minimum(full_step, -1e-300), np.inf).min()
        scale = min(1.0, float(shrink))
        while scale > 1e-6:
            candidate = x + scale * full_step
            candidate_residual = system.relative_residual(candidate)
            if candidate_residual < residual:
                x, residual = candidate, candidate_residual
                break
            scale *= 0.5
        else:
            break
    if residual < tolerance:
        return x, max_iterations
    raise SteadyStateError(f"Newton polishing did not converge (relative residual {residual:.2e} ≥ {tolerance:g})",
                           source=system.model.source, key="steady_state")


def find_steady_state(
    model: KineticModel,
    initial: PhysiologicalState | Mapping[str, float] | np.ndarray,
    *,
    tolerance: float = 1e-11,
    t_max: float = 1e7,
    switch_tolerance: float = 1e-6,
    max_newton_iterations: int = 50,
    max_seconds: float | None = None,
) -> SteadyState:
    """Steady state of a fully parameterized model reached from ``initial`` (a state, {species: µM}, or
    concentrations of all species in model order). Boundary species keep the model's values. With
    ``max_seconds`` the integration gives up (SteadyStateError) after that much wall-clock time."""
    if t_max <= 0 or max_newton_iterations < 1 or tolerance <= 0:
        raise ValueError("t_max and tolerance must be > 0 and max_newton_iterations >= 1")
    if isinstance(initial, np.ndarray):
        if initial.shape != (len(model.species),):
            raise SteadyStateError(f"initial concentrations must have shape ({len(model.species)},) (all species "
                                   f"in model order), got {initial.shape}", source=model.source, key="initial")
        x_all = np.array(initial, dtype=float)
        boundary = model.boundary_concentrations()
        for species, value in boundary.items():  # boundary species keep the model's values
            x_all[model.species_index[species]] = value
    elif isinstance(initial, (PhysiologicalState, Mapping)):
        if not isinstance(initial, PhysiologicalState):
            bad = [k for k, v in initial.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
            if bad:
                raise SteadyStateError(f"concentration is not a number: {initial[bad[0]]!r}", source=model.source,
                                       key=bad[0])
            initial = PhysiologicalState(dict(initial))
        x_all = state_vector(initial, model)
    else:
        raise SteadyStateError(f"initial state must be a PhysiologicalState, a mapping or an array, got "
                               f"{type(initial).__name__}", source=model.source, key="initial")
    system = OdeSystem(model, x_all)
    if max_seconds is not None:
        system.deadline = time.perf_counter() + max_seconds
    x0 = system.x_all[system.ode]
    if not (np.isfinite(x0).all() and (x0 > 0).all()):
        raise SteadyStateError("initial concentrations must be finite and > 0", source=model.source, key="initial")
    x, t = _integrate(system, x0, t_max, switch_tolerance)
    x, iterations = _newton(system, x, tolerance, max_newton_iterations)
    concentrations = system.x_all.copy()
    concentrations[system.ode] = x
    fluxes = system.rates(x)
    return SteadyState(model, concentrations, fluxes, system.relative_residual(x), t, iterations)
