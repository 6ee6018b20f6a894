"""ln Km ranges that generators map onto: around the physiology's concentrations or the training data."""
from __future__ import annotations

import numpy as np

from kinlatent.physiology import Physiology


def saturation_bounds(physiology: Physiology, km_names: tuple[str, ...], sigma_min: float = 1e-3
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per-Km bounds that cover saturations σ ∈ [sigma_min, 1 − sigma_min]: ln x ± ln((1 − σmin)/σmin)."""
    species_of: dict[str, str] = {}
    for reaction in physiology.model.reactions:
        for slot in reaction.slots:
            species_of[reaction.parameter(slot.km_parameter_base)] = slot.species
    ln_x = np.log([physiology.species_concentration(species_of[n]) for n in km_names])
    half_width = np.log((1.0 - sigma_min) / sigma_min)
    return ln_x - half_width, ln_x + half_width
