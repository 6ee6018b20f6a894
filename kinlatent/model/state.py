"""Physiological states: concentrations (µM) and fluxes (µM/h) read from pyTFA solutions or plain CSV files.

Two CSV layouts are read:
- pyTFA solution tables (``tfa_reference_strains.csv``): one row per solution, ``LC_<met>`` columns hold
  ln(concentration in mol/L) and net fluxes are ``R − R_reverse_<hash>`` in mmol/gDW/h;
- plain tables with a ``species`` column and a ``concentration`` column (µM), optionally also ``reaction`` and
  ``flux`` columns (net flux, µM/h): each row then fills one pair and leaves the other empty.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from kinlatent.exceptions import StateFileError
from kinlatent.model.kinetic_model import KineticModel

MOLAR_TO_MICROMOLAR = 1e6
# mmol/gDW/h → µM/h: · 1e-3 mol/mmol · 0.3 gDW/gWW · 1200 gWW/L · 1e6 µM/M
FLUX_TO_MICROMOLAR_PER_HOUR = 1e-3 * 0.3 * 1200.0 * 1e6


@dataclass(frozen=True)
class PhysiologicalState:
    """Concentrations of species (µM) and, when known, net fluxes of reactions (µM/h)."""

    concentrations: Mapping[str, float]
    fluxes: Mapping[str, float] | None = None
    source: str | None = None
    label: str | None = None


def _normalise(identifier: str) -> str:
    """Common form of pyTFA and SKiMpy ids: '-' → '_', no leading '_' (``_13dpg_c`` ~ ``13dpg_c``)."""
    return identifier.replace("-", "_").lstrip("_")


def _read_csv(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise StateFileError("state file not found", source=path)
    try:
        return pd.read_csv(path, index_col=None, float_precision="round_trip")  # exact repr floats
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise StateFileError(f"cannot read CSV: {error}", source=path) from error


def read_state(path: str | Path, model: KineticModel, row: str | int | None = None) -> PhysiologicalState:
    """Read a state for ``model`` from a CSV file; every ODE species must be present, finite and > 0."""
    if not isinstance(path, (str, Path)):
        raise StateFileError(f"expected a file path, got {type(path).__name__}", source=repr(path))
    if not isinstance(model, KineticModel):
        raise TypeError(f"model must be a KineticModel, got {type(model).__name__}")
    path = Path(path)
    table = _read_csv(path)
    duplicated = [str(c) for c in table.columns[table.columns.duplicated()]]
    if duplicated:
        raise StateFileError(f"duplicate column(s) {duplicated[:5]}", source=path, key=duplicated[0])
    if table.empty:
        raise StateFileError("the file has no data rows", source=path)
    if any(str(c).startswith("LC_") for c in table.columns):
        state = _read_tfa(table, path, model, row)
    elif {"species", "concentration"} <= set(table.columns):
        if row is not None:
            raise StateFileError("--row/state_row applies to pyTFA tables, not species,concentration files",
                                 source=path, key="row")
        state = _read_plain(table, path, model)
    else:
        raise StateFileError(
            "unrecognised layout: expected pyTFA columns 'LC_<metabolite>' or columns 'species' and "
            "'concentration' (µM)", source=path,
        )
    check_state_covers(state, model)
    return state


def _read_plain(table: pd.DataFrame, path: Path, model: KineticModel) -> PhysiologicalState:
    by_normal = {_normalise(s): s for s in model.species}
    concentrations: dict[str, float] = {}
    unknown = []
    fluxes = _read_plain_fluxes(table, path, model) if {"reaction", "flux"} <= set(table.columns) else None
    if fluxes is not None:  # rows of the flux part leave the species cell empty
        table = table[table["species"].notna()]
    for name, value in zip(table["species"], table["concentration"]):
        species = by_normal.get(_normalise(str(name)))
        if species is None:
            unknown.append(str(name))
            continue
        if species in concentrations:
            raise StateFileError("species listed twice", source=path, key=str(name))
        concentrations[species] = _positive(value, path, str(name))
    if unknown:
        raise StateFileError(f"{len(unknown)} species not in model {model.name!r}: {unknown[:5]}", source=path,
                             key=unknown[0])
    return PhysiologicalState(concentrations=concentrations, fluxes=fluxes or None, source=str(path),
                              label=path.stem)


def _read_plain_fluxes(table: pd.DataFrame, path: Path, model: KineticModel) -> dict[str, float]:
    """Net fluxes (µM/h) from the ``reaction``/``flux`` columns of a plain table (rows with a reaction)."""
    known = set(model.reaction_names)
    fluxes: dict[str, float] = {}
    for name, value in zip(table["reaction"], table["flux"]):
        if pd.isna(name):
            continue
        name = str(name)
        if name not in known:
            raise StateFileError(f"reaction not in model {model.name!r}", source=path, key=name)
        if name in fluxes:
            raise StateFileError("reaction listed twice", source=path, key=name)
        try:
            flux = float(value)
        except (TypeError, ValueError):
            raise StateFileError(f"flux is not a number: {value!r}", source=path, key=name) from None
        if not math.isfinite(flux):
            raise StateFileError(f"flux is not finite ({flux})", source=path, key=name)
        fluxes[name] = flux
    return fluxes


def _positive(value: object, source: Path | str, key: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise StateFileError(f"not a number: {value!r}", source=source, key=key) from None
    if not math.isfinite(number) or number <= 0:
        raise StateFileError(f"concentration must be finite and > 0, got {number}", source=source, key=key)
    return number


def _select_row(table: pd.DataFrame, path: Path, model: KineticModel, row: str | int | None) -> pd.Series:
    labels = [str(v) for v in table.iloc[:, 0]]
    if isinstance(row, bool):
        raise StateFileError(f"row must be a label or an index, got {row!r}", source=path, key="row")
    if row is None:
        row = model.name if model.name in labels else 0
    if isinstance(row, int):
        if not 0 <= row < len(table):
            raise StateFileError(f"row {row} out of range (0..{len(table) - 1})", source=path, key="row")
        return table.iloc[row]
    if row not in labels:
        raise StateFileError(f"no row labelled {row!r}; rows: {labels}", source=path, key="row")
    if labels.count(row) > 1:
        raise StateFileError(f"row label {row!r} appears {labels.count(row)} times", source=path, key="row")
    return table.iloc[labels.index(row)]


def _read_tfa(table: pd.DataFrame, path: Path, model: KineticModel, row: str | int | None) -> PhysiologicalState:
    record = _select_row(table, path, model, row)
    by_normal = {_normalise(str(c)[3:]): str(c) for c in table.columns if str(c).startswith("LC_")}
    concentrations = {}
    for species in model.species:
        column = by_normal.get(_normalise(species))
        if column is None:
            continue
        log_molar = record[column]
        try:
            value = math.exp(float(log_molar)) * MOLAR_TO_MICROMOLAR
        except (TypeError, ValueError, OverflowError):
            raise StateFileError(f"not a finite log-concentration (ln mol/L): {log_molar}", source=path,
                                 key=column) from None
        concentrations[species] = _positive(value, path, column)
    fluxes = {}
    reverse = {str(c).rsplit("_reverse_", 1)[0]: str(c) for c in table.columns if "_reverse_" in str(c)}
    for reaction in model.reaction_names:
        forward = reaction if reaction in table.columns else None
        if forward is None and reaction.startswith("LMPD_") and reaction[5:] in table.columns:
            forward = reaction[5:]
        if forward is None or forward not in reverse:
            continue
        try:
            net = float(record[forward]) - float(record[reverse[forward]])
        except (TypeError, ValueError):
            raise StateFileError(f"flux is not a number: {record[forward]!r} / {record[reverse[forward]]!r}",
                                 source=path, key=forward) from None
        if not math.isfinite(net):
            raise StateFileError(f"flux is not finite ({net})", source=path, key=forward)
        fluxes[reaction] = net * FLUX_TO_MICROMOLAR_PER_HOUR
    return PhysiologicalState(concentrations, fluxes or None, source=str(path), label=str(record.iloc[0]))


def check_state_covers(state: PhysiologicalState, model: KineticModel) -> None:
    """Every ODE species needs a concentration; raise naming the first missing ones."""
    missing = [s for s in model.ode_species if s not in state.concentrations]
    if missing:
        raise StateFileError(
            f"{len(missing)} species of model {model.name!r} have no concentration: {', '.join(missing[:10])}",
            source=state.source, key=missing[0],
        )


def state_vector(state: PhysiologicalState, model: KineticModel) -> np.ndarray:
    """Concentrations of all species in model order: ODE species from the state, boundary from the model."""
    check_state_covers(state, model)
    boundary = model.boundary_concentrations()
    return np.array([boundary[s] if s in boundary else state.concentrations[s] for s in model.species])


def reference_state_file(model_path: str | Path) -> Path | None:
    """The reference state lying beside a model file, if any: ``<model stem>_state.csv`` (the plain layout,
    as written for the embedded default model), else the published pyTFA ``tfa_reference_strains.csv``."""
    model_path = Path(model_path)
    for candidate in (model_path.parent / f"{model_path.stem}_state.csv",
                      model_path.parent / "tfa_reference_strains.csv"):
        if candidate.is_file():
            return candidate
    return None
