"""What every latent search returns, and helpers to merge and de-duplicate."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np


@dataclass
class SearchResult:
    """Found latent points (rows) with their ln Km and properties, plus the cost of finding them."""

    method: str
    z: np.ndarray
    ln_km: np.ndarray
    values: dict[str, np.ndarray]
    evaluations: int
    wall_seconds: float
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def n_found(self) -> int:
        return int(self.z.shape[0])

    def take(self, rows: np.ndarray) -> "SearchResult":
        return SearchResult(self.method, self.z[rows], self.ln_km[rows], {k: v[rows] for k, v in self.values.items()},
                            self.evaluations, self.wall_seconds, self.trace)


def distinct_rows(ln_km: np.ndarray, decimals: int = 6) -> np.ndarray:
    """Indices of the first occurrence of each distinct ln Km row (rounded), in original order."""
    if len(ln_km) == 0:
        return np.zeros(0, dtype=int)
    _, first = np.unique(np.round(ln_km, decimals), axis=0, return_index=True)
    return np.sort(first)


def merge_results(results: Sequence[SearchResult], limit: int | None = None) -> SearchResult:
    """Concatenate results of parallel search units (same method), de-duplicated, capped at ``limit``."""
    if not results:
        raise ValueError("nothing to merge")
    z = np.concatenate([r.z for r in results])
    ln_km = np.concatenate([r.ln_km for r in results])
    names = results[0].values.keys()
    values = {n: np.concatenate([r.values[n] for r in results]) for n in names}
    trace: dict[str, Any] = {"units": [r.trace for r in results]}
    merged = SearchResult(results[0].method, z, ln_km, values, sum(r.evaluations for r in results),
                          max(r.wall_seconds for r in results), trace)
    rows = distinct_rows(ln_km)
    if limit is not None:
        rows = rows[:limit]
    return merged.take(rows)


def empty_result(method: str, latent_dim: int, n_km: int, names: Sequence[str]) -> SearchResult:
    return SearchResult(method, np.zeros((0, latent_dim), dtype=np.float32), np.zeros((0, n_km)),
                        {n: np.zeros(0) for n in names}, 0, 0.0)
