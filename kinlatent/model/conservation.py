"""Conserved moieties: the left null space of N, independent/dependent species and the link matrix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from kinlatent.exceptions import ModelFormatError


@dataclass(frozen=True)
class ConservationAnalysis:
    """Split of the ODE species into independent and dependent ones.

    ``N = L @ N_r`` with ``N_r = N[independent]``; ``L`` (n_ode × n_independent) is the link matrix with an
    identity block on the independent rows and ``L0`` on the dependent rows. ``moieties`` (n_dependent × n_ode)
    spans the left null space of N: ``moieties @ N == 0`` and ``moieties @ x`` is constant in time.
    """

    species: tuple[str, ...]
    independent: tuple[int, ...]
    dependent: tuple[int, ...]
    link_matrix: np.ndarray
    link_dependent: np.ndarray
    moieties: np.ndarray

    @property
    def n_independent(self) -> int:
        return len(self.independent)

    @property
    def n_dependent(self) -> int:
        return len(self.dependent)

    def moiety_dicts(self) -> list[dict[str, float]]:
        """Each conservation relation as {species: coefficient}, scaled so its smallest |coefficient| is 1."""
        relations = []
        for row in self.moieties:
            nonzero = np.abs(row) > 1e-9 * np.abs(row).max()
            scale = np.abs(row[nonzero]).min()
            relations.append({self.species[i]: round(float(row[i] / scale), 9) for i in np.flatnonzero(nonzero)})
        return relations


def _rank(matrix: np.ndarray) -> int:
    if matrix.size == 0:
        return 0
    singular = np.linalg.svd(matrix, compute_uv=False)
    tolerance = max(matrix.shape) * np.finfo(float).eps * 1e3 * (singular[0] if singular.size else 0.0)
    return int((singular > tolerance).sum())


def analyse_conservation(
    stoichiometry: np.ndarray,
    species: Sequence[str],
    prefer_dependent: Sequence[str] = (),
    source: str | None = None,
) -> ConservationAnalysis:
    """Find the conserved moieties of ``stoichiometry`` (n_ode × n_reactions) in floating point.

    Species are taken as independent greedily, in model order but with ``prefer_dependent`` (SKiMpy's
    ``dependent_reactants``) tried last, so the split matches the file's when the file states one.
    Columns are scaled to unit max-norm first: scaling reactions does not change the left null space, and it
    keeps the huge biomass coefficients from masking small ones in the rank test.
    """
    n = np.asarray(stoichiometry, dtype=float)
    column_scale = np.abs(n).max(axis=0)
    column_scale[column_scale == 0] = 1.0
    scaled = n / column_scale
    preferred_last = set(prefer_dependent)
    order = [i for i, s in enumerate(species) if s not in preferred_last]
    order += [i for i, s in enumerate(species) if s in preferred_last]
    independent: list[int] = []
    rank = 0
    for i in order:
        candidate = independent + [i]
        new_rank = _rank(scaled[candidate])
        if new_rank > rank:
            independent, rank = candidate, new_rank
    independent.sort()
    dependent = [i for i in range(len(species)) if i not in set(independent)]
    n_r = scaled[independent]
    # N_dep = L0 @ N_r  ⇒  N_r.T @ L0.T = N_dep.T
    link_dependent = np.linalg.lstsq(n_r.T, scaled[dependent].T, rcond=None)[0].T
    residual = np.abs(link_dependent @ n_r - scaled[dependent]).max() if dependent else 0.0
    if residual > 1e-8:
        raise ModelFormatError(
            f"conservation analysis failed: dependent rows not reproduced (residual {residual:.2e})",
            source=source, key="stoichiometry",
        )
    link = np.zeros((len(species), len(independent)))
    link[independent, np.arange(len(independent))] = 1.0
    link[dependent] = link_dependent
    moieties = np.zeros((len(dependent), len(species)))
    moieties[:, independent] = -link_dependent
    moieties[np.arange(len(dependent)), dependent] = 1.0
    moieties[np.abs(moieties) < 1e-12] = 0.0
    return ConservationAnalysis(
        species=tuple(species),
        independent=tuple(independent),
        dependent=tuple(dependent),
        link_matrix=link,
        link_dependent=link_dependent,
        moieties=moieties,
    )
