"""ln Km ranges that generators map onto: around the physiology's concentrations or the training data."""
from __future__ import annotations

import numpy as np

from kinlatent.physiology import Physiology


def saturation_bounds(physiology: Physiology, km_names: tuple[str, ...], sigma_min: float = 1e-3
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Per-Km bounds that cover saturations σ ∈ [sigma_min, 1 − sigma_min]: ln x ± ln((1 − σmin)/σmin)."""
    if tuple(km_names) != physiology.model.km_parameter_names:
        raise ValueError("km_names must be the model's Km parameters in order")
    ln_x = physiology.km_log_concentrations()
    half_width = np.log((1.0 - sigma_min) / sigma_min)
    return ln_x - half_width, ln_x + half_width
