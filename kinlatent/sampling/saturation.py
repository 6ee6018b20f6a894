"""ORACLE sampling of enzyme saturations → ln Km around a physiology, reproducible whatever the sharding.

For each Michaelis constant (one per binding site) a saturation σ ∈ (low, high) is drawn and
Km = x·(1 − σ)/σ with x the concentration of that site's reactant, so that x/(x + Km) = σ. Rows are generated
in fixed blocks, each from its own seeded stream (seed, block): row r is the same number whichever shard
produces it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from kinlatent.exceptions import ConfigError
from kinlatent.physiology import Physiology

BLOCK_SIZE = 256
_SIGMA_EPS = 1e-12


@dataclass(frozen=True)
class SaturationConfig:
    """Uniform saturation range for all sites, per-parameter ranges, and Km held fixed (µM)."""

    low: float = 0.0
    high: float = 1.0
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    fixed_km: Mapping[str, float] = field(default_factory=dict)


class SaturationSampler:
    """Draws ln Km rows [start, stop) for a physiology; deterministic in (seed, row)."""

    def __init__(self, physiology: Physiology, config: SaturationConfig = SaturationConfig()) -> None:
        model = physiology.model
        self.km_names: tuple[str, ...] = model.km_parameter_names
        self.ln_x = physiology.km_log_concentrations()
        self.low = np.full(len(self.km_names), float(config.low))
        self.high = np.full(len(self.km_names), float(config.high))
        self._check_range(config.low, config.high, "sampler.saturation")
        index = {n: i for i, n in enumerate(self.km_names)}
        for name, pair in config.bounds.items():
            if name not in index:
                raise ConfigError(f"unknown Km parameter; valid names look like {self.km_names[0]!r} "
                                  f"({len(self.km_names)} in the model)", key=f"sampler.bounds.{name}")
            try:
                low, high = (float(v) for v in pair)
            except (TypeError, ValueError):
                raise ConfigError(f"expected [low, high], got {pair!r}", key=f"sampler.bounds.{name}") from None
            self._check_range(low, high, f"sampler.bounds.{name}")
            self.low[index[name]], self.high[index[name]] = low, high
        self.fixed = np.zeros(len(self.km_names), dtype=bool)
        self.fixed_ln = np.zeros(len(self.km_names))
        for name, value in config.fixed_km.items():
            if name not in index:
                raise ConfigError(f"unknown Km parameter (model has {len(self.km_names)}, e.g. "
                                  f"{self.km_names[0]!r})", key=f"sampler.fixed_km.{name}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value <= 0:
                raise ConfigError(f"a fixed Km must be a finite number > 0 (µM), got {value!r}",
                                  key=f"sampler.fixed_km.{name}")
            self.fixed[index[name]] = True
            self.fixed_ln[index[name]] = math.log(value)

    @staticmethod
    def _check_range(low: float, high: float, key: str) -> None:
        if not (isinstance(low, (int, float)) and isinstance(high, (int, float))):
            raise ConfigError(f"saturation bounds must be numbers, got {low!r}, {high!r}", key=key)
        if not (0.0 <= low < high <= 1.0):
            raise ConfigError(f"saturation range must satisfy 0 <= low < high <= 1, got [{low}, {high}]", key=key)

    @property
    def n_km(self) -> int:
        return len(self.km_names)

    def sample(self, start: int, stop: int, seed: int) -> np.ndarray:
        """ln Km (µM) of rows start..stop−1, shape (stop − start, n_km)."""
        if stop <= start:
            return np.empty((0, self.n_km))
        first, last = start // BLOCK_SIZE, (stop - 1) // BLOCK_SIZE
        blocks = [np.random.default_rng([seed, b]).random((BLOCK_SIZE, self.n_km)) for b in range(first, last + 1)]
        uniform = np.concatenate(blocks)[start - first * BLOCK_SIZE: stop - first * BLOCK_SIZE]
        sigma = np.clip(self.low + (self.high - self.low) * uniform, _SIGMA_EPS, 1.0 - _SIGMA_EPS)
        ln_km = self.ln_x + np.log1p(-sigma) - np.log(sigma)
        ln_km[:, self.fixed] = self.fixed_ln[self.fixed]
        return ln_km
