"""A physiology: a kinetic model at a steady state (x*, v*) — what ORACLE sampling and generators work around."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from kinlatent.model import KineticModel, load_model
from kinlatent.model.state import read_state, reference_state_file, state_vector
from kinlatent.exceptions import StateFileError


@dataclass(frozen=True)
class Physiology:
    """Concentrations of all species (µM) and fluxes of all reactions (µM/h) of ``model`` at steady state."""

    model: KineticModel
    concentrations: np.ndarray
    fluxes: np.ndarray
    label: str = ""

    @cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the model fingerprint and the state (rounded to 12 significant digits)."""
        digest = hashlib.sha256(self.model.fingerprint().encode())
        for array in (self.concentrations, self.fluxes):
            digest.update(np.array([float(f"{v:.12e}") for v in array]).tobytes())
        return digest.hexdigest()

    def oracle(self, device: str | torch.device = "cpu"):
        """The ln Km → λmax evaluator around this physiology."""
        from kinlatent.stability import OracleStability

        return OracleStability(self.model, self.concentrations, self.fluxes, device=device)

    def species_concentration(self, species: str) -> float:
        return float(self.concentrations[self.model.species_index[species]])

    def km_log_concentrations(self) -> np.ndarray:
        """ln x (µM) of the reactant at each Km site, in ``model.km_parameter_names`` order: ln Km − this is
        the site's saturation in logit form, ln((1 − σ)/σ)."""
        index = self.model.species_index
        return np.log(self.concentrations[[index[s] for s in self.model.km_species]])


def load_physiology(model_path: str | Path, state_path: str | Path | None = None, row: str | int | None = None,
                    find_steady: bool = True) -> Physiology:
    """Model file + state file → physiology.

    With ``find_steady`` the model (fully parameterized) is driven to its steady state from the state file;
    otherwise the file's concentrations and fluxes are taken as the steady state (pyTFA solutions).
    """
    from kinlatent.stability import find_steady_state

    model = load_model(model_path)
    state_path = state_path or reference_state_file(model_path)
    if state_path is None:
        raise StateFileError("no state file given and no tfa_reference_strains.csv beside the model",
                             source=model_path, key="state")
    state = read_state(state_path, model, row=row)
    if find_steady:
        steady = find_steady_state(model, state)
        return Physiology(model, steady.concentrations, steady.fluxes, label=f"{model.name} steady state")
    if not state.fluxes or any(r not in state.fluxes for r in model.reaction_names):
        missing = [r for r in model.reaction_names if not state.fluxes or r not in state.fluxes]
        raise StateFileError(f"state has no flux for {len(missing)} reactions", source=state_path, key=missing[0])
    fluxes = np.array([state.fluxes[r] for r in model.reaction_names])
    return Physiology(model, state_vector(state, model), fluxes, label=state.label or "")


def physiology_from_config(model: Mapping[str, Any]) -> Physiology:
    """The physiology of a ``model`` config section (conf/model/*.yaml: path, state, state_row, steady_state)."""
    from kinlatent.exceptions import ConfigError

    path = model.get("path")
    if not path or not Path(str(path)).is_file():
        raise ConfigError(f"model file not found: {path} (set KINLATENT_MODELS_DIR or model.path)", key="model.path")
    return load_physiology(str(path), model.get("state"), model.get("state_row"),
                           find_steady=bool(model.get("steady_state", True)))
