"""Conditions: the physiologies a generator is transferred to.

A condition is a steady state of a kinetic model, given either as another model file (``model: PATH``, e.g.
varma_strain_2.yml) or as a perturbation of the source model: ``vmax_scale`` {reaction: factor}
(overexpression / knock-down), ``uptake_scale`` {uptake reaction: factor} (faster or slower growth) and
``boundary`` {boundary species: µM}. kinlatent computes the new steady state from the source steady state and
refuses a condition whose steady state cannot be found or is unstable in the reference parameterisation.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from omegaconf import OmegaConf

from kinlatent.exceptions import ConfigError, KinlatentError
from kinlatent.model import KineticModel
from kinlatent.physiology import Physiology, load_physiology
from kinlatent.pipelines.config_values import file_safe_name, only_known_keys

logger = logging.getLogger(__name__)
STEADY_STATE_SECONDS = 120.0   # a perturbation whose steady state takes longer to find is refused
CONDITION_KEYS = {"name", "description", "model", "state", "state_row", "vmax_scale", "uptake_scale", "boundary",
                  "threshold"}


class ConditionError(KinlatentError, ValueError):
    """A condition cannot be built: unknown enzyme/species, no steady state, or an unstable one."""


@dataclass(frozen=True)
class ConditionSpec:
    """What a condition changes (see the module docstring)."""

    name: str
    description: str = ""
    model: str | None = None
    state: str | None = None
    state_row: str | int | None = None
    vmax_scale: Mapping[str, float] = field(default_factory=dict)
    uptake_scale: Mapping[str, float] = field(default_factory=dict)
    boundary: Mapping[str, float] = field(default_factory=dict)
    threshold: float | None = None     # λmax threshold (1/h) of this condition; None: the study's

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "model": self.model, "state": self.state,
                "state_row": self.state_row, "vmax_scale": dict(self.vmax_scale),
                "uptake_scale": dict(self.uptake_scale), "boundary": dict(self.boundary),
                "threshold": self.threshold}


@dataclass(frozen=True)
class Condition:
    """A built condition: its physiology, how far it moved from the source, and its reference stability."""

    spec: ConditionSpec
    physiology: Physiology
    flux_shift: float               # ‖v − v_source‖ / ‖v_source‖
    max_flux_change: float          # largest |Δv|/|v_source| over reactions carrying ≥ 1e-6 of the largest flux
    concentration_shift: float      # median |ln(x / x_source)| over ODE species
    reference_lambda_max: float     # λmax of the model's own parameters at the new steady state (1/h)
    km_shift: np.ndarray            # Δ ln x of each Km site's reactant from the source (saturation-preserving reuse)

    @property
    def name(self) -> str:
        return self.spec.name


def _factors(raw: Any, key: str, positive: bool = True) -> dict[str, float]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"expected a mapping {{name: number}}, got {raw!r}", key=key)
    values = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or (
                positive and value <= 0):
            raise ConfigError(f"must be a finite number > 0, got {value!r}", key=f"{key}.{name}")
        values[str(name)] = float(value)
    return values


def _threshold(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value >= 0:
        raise ConfigError(f"must be a finite number < 0 (1/h) or null, got {value!r}", key=key)
    return float(value)


def parse_condition(raw: Any, key: str, conf_dir: Path | None = None) -> ConditionSpec:
    """A condition from a mapping, or from ``conf/condition/<name>.yaml`` when given by name."""
    if isinstance(raw, str):
        from kinlatent.hydra_app import CONF_DIR  # also registers ${kl.models_dir:} used by the condition files

        directory = conf_dir or CONF_DIR / "condition"
        path = directory / f"{raw}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in directory.glob("*.yaml"))
            raise ConfigError(f"unknown condition {raw!r}; known: {', '.join(known)} (or give a mapping with "
                              "name, model or vmax_scale/uptake_scale/boundary)", key=key)
        return parse_condition(OmegaConf.to_container(OmegaConf.load(path), resolve=True), key=str(path))
    if not isinstance(raw, Mapping):
        raise ConfigError(f"a condition is a name or a mapping, got {raw!r}", key=key)
    only_known_keys(raw, CONDITION_KEYS, key, "condition")
    name = file_safe_name(raw, "name", key, "condition")
    spec = ConditionSpec(name=name, description=str(raw.get("description") or ""),
                         model=None if raw.get("model") is None else str(raw["model"]),
                         state=None if raw.get("state") is None else str(raw["state"]),
                         state_row=raw.get("state_row"),
                         vmax_scale=_factors(raw.get("vmax_scale"), f"{key}.vmax_scale"),
                         uptake_scale=_factors(raw.get("uptake_scale"), f"{key}.uptake_scale"),
                         boundary=_factors(raw.get("boundary"), f"{key}.boundary"),
                         threshold=_threshold(raw.get("threshold"), f"{key}.threshold"))
    if spec.model is None and not (spec.vmax_scale or spec.uptake_scale or spec.boundary):
        raise ConfigError("a condition needs a model file (model: PATH) or a perturbation (vmax_scale, "
                          "uptake_scale, boundary)", key=key)
    if spec.model is not None and (spec.vmax_scale or spec.uptake_scale or spec.boundary):
        raise ConfigError("give either a model file or a perturbation of the source model, not both", key=key)
    if spec.model is None and (spec.state is not None or spec.state_row is not None):
        raise ConfigError("state and state_row belong to a model file condition; a perturbation starts from the "
                          "source steady state", key=f"{key}.state")
    both = sorted(set(spec.vmax_scale) & set(spec.uptake_scale))
    if both:
        raise ConfigError(f"{both[0]} is scaled in both vmax_scale and uptake_scale: give one factor",
                          key=f"{key}.uptake_scale.{both[0]}")
    if spec.model is not None and not Path(spec.model).is_file():
        raise ConfigError(f"condition model file not found: {spec.model} (set KINLATENT_MODELS_DIR)",
                          key=f"{key}.model")
    return spec


def _uptake_reactions(model: KineticModel) -> list[str]:
    """Reactions that take up a boundary species (a boundary species among their substrates)."""
    boundary = set(model.boundary_species)
    return [r.name for r in model.reactions if any(s.species in boundary for s in r.substrates)]


def check_perturbation(spec: ConditionSpec, model: KineticModel) -> None:
    """Every named enzyme, uptake and boundary species exists in the source model (before any work)."""
    reactions = set(model.reaction_names)
    for name in spec.vmax_scale:
        if name not in reactions:
            raise ConditionError(f"enzyme (reaction) {name!r} is not in model {model.name!r}; its reactions: "
                                 f"{', '.join(model.reaction_names)}", source=spec.name, key=f"vmax_scale.{name}")
    uptakes = _uptake_reactions(model)
    for name in spec.uptake_scale:
        if name not in uptakes:
            raise ConditionError(f"{name!r} is not an uptake reaction of model {model.name!r}; uptakes: "
                                 f"{', '.join(uptakes)}", source=spec.name, key=f"uptake_scale.{name}")
    for name in spec.boundary:
        if name not in model.boundary_species:
            raise ConditionError(f"{name!r} is not a boundary species of model {model.name!r}; boundary species: "
                                 f"{', '.join(model.boundary_species)}", source=spec.name, key=f"boundary.{name}")


def _reference_lambda_max(physiology: Physiology) -> float:
    """λmax of the model's own parameters at its steady state (vmax recomputed from v* equals the model's)."""
    import torch

    oracle = physiology.oracle()
    with torch.no_grad():
        return float(oracle.evaluate(oracle.km_vector().unsqueeze(0)).lambda_max[0])


def build_condition(spec: ConditionSpec, source: Physiology) -> Condition:
    """The condition's steady state, its shift from ``source`` and its reference stability (see module doc)."""
    from kinlatent.exceptions import SteadyStateError
    from kinlatent.stability import find_steady_state

    try:
        if spec.model is not None:
            physiology = load_physiology(spec.model, spec.state, spec.state_row, find_steady=True)
            if physiology.model.km_parameter_names != source.model.km_parameter_names:
                raise ConditionError(f"model {spec.model} has other Km parameters than the source model "
                                     f"{source.model.name!r}: a generator cannot be transferred", source=spec.name,
                                     key="model")
        else:
            model = source.model
            check_perturbation(spec, model)
            updates = {}
            for name, factor in {**spec.vmax_scale, **spec.uptake_scale}.items():  # disjoint (parse_condition)
                key = f"vmax_forward_{name}"
                updates[key] = model.parameter(key) * factor
            updates.update(spec.boundary)
            perturbed = model.with_parameters(updates, name=f"{model.name}+{spec.name}")
            initial = source.concentrations.copy()
            for species, value in spec.boundary.items():
                initial[model.species_index[species]] = value
            steady = find_steady_state(perturbed, initial, max_seconds=STEADY_STATE_SECONDS)
            physiology = Physiology(perturbed, steady.concentrations, steady.fluxes,
                                    label=f"{spec.name} steady state")
    except SteadyStateError as error:
        raise ConditionError(f"no steady state for this condition: {error.detail}", source=spec.name,
                             key="steady_state") from error
    reference = _reference_lambda_max(physiology)
    if not math.isfinite(reference) or reference >= 0:
        raise ConditionError(f"the steady state is unstable in the reference parameterisation (λmax = "
                             f"{reference:.4g} 1/h ≥ 0): not a physiology to transfer to", source=spec.name,
                             key="steady_state")
    v_source, v_target = source.fluxes, physiology.fluxes
    carried = np.abs(v_source) >= 1e-6 * np.abs(v_source).max()
    ode = [physiology.model.species_index[s] for s in physiology.model.ode_species]
    condition = Condition(
        spec, physiology,
        flux_shift=float(np.linalg.norm(v_target - v_source) / np.linalg.norm(v_source)),
        max_flux_change=float(np.max(np.abs(v_target - v_source)[carried] / np.abs(v_source)[carried])),
        concentration_shift=float(np.median(np.abs(np.log(physiology.concentrations[ode] /
                                                           source.concentrations[ode])))),
        reference_lambda_max=reference,
        km_shift=physiology.km_log_concentrations() - source.km_log_concentrations())
    logger.info("condition %s: flux shift %.3g, max flux change %.3g, reference λmax %.3g 1/h", spec.name,
                condition.flux_shift, condition.max_flux_change, reference)
    return condition
