"""Targets for latent search: windows on properties and a chosen top controller of a flux.

Config (``target`` section)::

    name: lambda_mid
    windows: {lambda_max: [-12, -8]}          # property: [low, high]; null leaves a side open
    constraints: ["fcc:GLCptspp:PFK >= 0.5"]  # the same as text: PROP >= a, PROP <= b, PROP in [a, b]
    top_controller: {flux: GLCptspp, enzyme: PFK}   # optional: the enzyme with the largest |C^J_e|
    stable: true                               # also require λmax < 0 (default; implied by a λmax window)

A set *satisfies* the target when every window holds, the controller is on top, λmax < 0 (when required)
and the ORACLE set is consistent (every recomputed vmax finite and ≥ 0). ``violation`` is a differentiable
distance to the target (0 inside), normalised per constraint, that the searches minimise.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import torch
from torch import Tensor

from kinlatent.exceptions import ConfigError
from kinlatent.latent.properties import PropertyEvaluator, PropertyName

NOT_FINITE_PENALTY = 1e3


@dataclass(frozen=True)
class Window:
    """low ≤ property ≤ high (either side may be open)."""

    prop: PropertyName
    low: float = -math.inf
    high: float = math.inf

    @property
    def scale(self) -> float:
        if math.isfinite(self.low) and math.isfinite(self.high):
            return self.high - self.low
        bound = self.low if math.isfinite(self.low) else self.high
        return max(abs(bound), 1.0)

    def satisfied(self, values: Tensor) -> Tensor:
        return (values >= self.low) & (values <= self.high)

    def violation(self, values: Tensor, margin: float) -> Tensor:
        inset = margin * self.scale
        low = self.low + inset if math.isfinite(self.low) else -math.inf
        high = self.high - inset if math.isfinite(self.high) else math.inf
        distance = torch.relu(low - values) + torch.relu(values - high)
        return distance / self.scale

    def centre_distance(self, values: Tensor) -> Tensor:
        """|value − centre| / half-width (≤ 1 inside) for two-sided windows; the violation otherwise."""
        if math.isfinite(self.low) and math.isfinite(self.high):
            return (values - 0.5 * (self.low + self.high)).abs() / (0.5 * self.scale)
        return self.violation(values, 0.0)


@dataclass(frozen=True)
class TopController:
    """The enzyme ``enzyme`` has the largest |scaled C^J| on flux ``flux``."""

    flux: str
    enzyme: str
    flux_index: int
    enzyme_index: int

    def margins(self, row: Tensor) -> Tensor:
        """|C_e| − max_{k≠e} |C_k| per set, (B,): > 0 when e is the top controller."""
        magnitude = row.abs()
        others = magnitude.clone()
        others[:, self.enzyme_index] = -math.inf
        return magnitude[:, self.enzyme_index] - others.max(dim=-1).values


@dataclass(frozen=True)
class TargetSet:
    """All constraints of one target."""

    name: str
    windows: tuple[Window, ...]
    top_controller: TopController | None = None
    stable: bool = True
    margin: float = 0.02
    properties: tuple[PropertyName, ...] = field(default=())

    def describe(self) -> str:
        parts = [f"{w.prop.text} in [{w.low:g}, {w.high:g}]" for w in self.windows]
        if self.top_controller:
            parts.append(f"top controller of {self.top_controller.flux} is {self.top_controller.enzyme}")
        return "; ".join(parts) or "stable"


@dataclass
class Assessment:
    """Properties, per-set satisfaction and violation for one batch."""

    values: dict[str, Tensor]
    satisfied: Tensor
    violation: Tensor
    centre: Tensor


def _bound(value: Any, key: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(float(value)):
        raise ConfigError(f"window bounds must be numbers or null, got {value!r}", key=key)
    return float(value)


_CONSTRAINT = re.compile(r"^\s*(?P<prop>[^\s<>=]+)\s*(?:(?P<op>>=|<=)\s*(?P<value>\S+)|in\s*\[\s*(?P<low>[^,\]]+)"
                         r"\s*,\s*(?P<high>[^\]]+?)\s*\])\s*$")


def _constraint_number(text: str, key: str) -> float | None:
    if text.strip().lower() in ("null", "none", "~"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(f"not a number: {text!r}", key=key) from None


def parse_constraint(text: Any, key: str) -> tuple[str, list[float | None]]:
    """``"PROP >= a"``, ``"PROP <= b"`` or ``"PROP in [a, b]"`` → (PROP, [low, high]) (for command lines, where
    property names with ':' cannot be mapping keys)."""
    match = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if match is None:
        raise ConfigError(f"expected 'PROPERTY >= a', 'PROPERTY <= b' or 'PROPERTY in [a, b]', got {text!r}", key=key)
    if match["op"] == ">=":
        return match["prop"], [_constraint_number(match["value"], key), None]
    if match["op"] == "<=":
        return match["prop"], [None, _constraint_number(match["value"], key)]
    return match["prop"], [_constraint_number(match["low"], key), _constraint_number(match["high"], key)]


def parse_target(config: Mapping[str, Any] | None, evaluator: PropertyEvaluator) -> TargetSet:
    """Build and check a target from its config section; errors name the key and list valid names."""
    if not isinstance(config, Mapping):
        raise ConfigError(f"target must be a mapping with windows and/or top_controller, got {config!r}",
                          key="target")
    known = {"name", "windows", "constraints", "top_controller", "stable", "margin"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"unknown target key(s) {unknown}; valid: {sorted(known)}", key=f"target.{unknown[0]}")
    windows_config = config.get("windows") or {}
    if not isinstance(windows_config, Mapping):
        raise ConfigError(f"expected {{property: [low, high]}}, got {windows_config!r}", key="target.windows")
    windows_config = dict(windows_config)
    for index, text in enumerate(config.get("constraints") or []):
        prop, pair = parse_constraint(text, f"target.constraints[{index}]")
        if prop in windows_config:
            raise ConfigError(f"{prop!r} is constrained twice", key=f"target.constraints[{index}]")
        windows_config[prop] = pair
    windows = []
    for text, pair in windows_config.items():
        key = f"target.windows.{text}"
        prop = evaluator.parse(str(text), key=key)
        if prop.kind == "top_controller":
            raise ConfigError("top_controller is not numeric: use target.top_controller: {flux, enzyme}", key=key)
        if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise ConfigError(f"expected [low, high] (null for an open side), got {pair!r}", key=key)
        low, high = _bound(pair[0], key), _bound(pair[1], key)
        low = -math.inf if math.isnan(low) else low
        high = math.inf if math.isnan(high) else high
        if not low < high:
            raise ConfigError(f"empty window [{low}, {high}]: low must be < high", key=key)
        windows.append(Window(prop, low, high))
    controller = None
    controller_config = config.get("top_controller")
    if controller_config is not None:
        if not isinstance(controller_config, Mapping) or set(controller_config) != {"flux", "enzyme"}:
            raise ConfigError(f"expected {{flux: REACTION, enzyme: REACTION}}, got {controller_config!r}",
                              key="target.top_controller")
        flux, enzyme = str(controller_config["flux"]), str(controller_config["enzyme"])
        prop = evaluator.parse(f"fcc:{flux}:{enzyme}", key="target.top_controller")
        controller = TopController(flux, enzyme, prop.row, prop.column)
    if not windows and controller is None:
        raise ConfigError("a target needs at least one window or a top_controller", key="target")
    margin = config.get("margin", 0.02)
    if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not 0 <= margin < 0.5:
        raise ConfigError(f"margin must be a number in [0, 0.5), got {margin!r}", key="target.margin")
    properties = tuple(w.prop for w in windows)
    if controller is not None:
        properties += (evaluator.parse(f"fcc:{controller.flux}:{controller.enzyme}"),)
    stable = bool(config.get("stable", True))
    if stable and not any(w.prop.kind == "lambda_max" for w in windows):
        properties += (evaluator.parse("lambda_max"),)
    name = str(config.get("name") or "target")
    return TargetSet(name, tuple(windows), controller, stable, float(margin), properties)


def assess(target: TargetSet, evaluator: PropertyEvaluator, ln_km: Tensor) -> Assessment:
    """Evaluate a batch against a target (differentiable violation, boolean satisfaction)."""
    values = evaluator.evaluate(target.properties, ln_km)
    batch = ln_km.shape[0]
    satisfied = torch.ones(batch, dtype=torch.bool, device=ln_km.device)
    violation = ln_km.new_zeros(batch)
    centre = ln_km.new_zeros(batch)
    finite = torch.ones_like(satisfied)
    for window in target.windows:
        value = values[window.prop.text]
        finite &= torch.isfinite(value)
        satisfied &= window.satisfied(value)
        violation = violation + window.violation(value, target.margin)
        centre = torch.maximum(centre, window.centre_distance(value))
    if target.stable:
        lam = values["lambda_max"]
        finite &= torch.isfinite(lam)
        satisfied &= lam < 0
        violation = violation + torch.relu(lam)
    if target.top_controller is not None:
        controller = target.top_controller
        row = evaluator.flux_control_rows(ln_km, [controller.flux_index])[:, 0, :]
        margins = controller.margins(row)
        finite &= torch.isfinite(margins)
        satisfied &= margins > 0
        scale = row.detach().abs().max(dim=-1).values.clamp_min(1e-12)
        violation = violation + torch.relu(0.05 * scale - margins) / scale
        values[f"top_controller:{controller.flux}"] = row.abs().argmax(dim=-1)
    vmax = evaluator.oracle.vmax(ln_km)
    consistent = torch.isfinite(vmax).all(dim=1) & (vmax >= 0).all(dim=1)
    satisfied &= finite & consistent
    penalty = torch.full_like(violation, NOT_FINITE_PENALTY)
    violation = torch.where(finite & torch.isfinite(violation), violation, penalty)
    centre = torch.where(finite, centre, penalty)
    return Assessment(values, satisfied, violation, centre)
