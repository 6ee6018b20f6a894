"""Rewards of the NES (RENAISSANCE) scheme, computed from λmax of a member's generated sets."""
from __future__ import annotations

import numpy as np

REWARD_MODES = ("incidence", "fastest")


def reward(lambda_max: np.ndarray, threshold: float, mode: str = "incidence", shaping_scale: float = 5.0,
           shaping_weight: float = 0.1) -> float:
    """``incidence``: share of sets with λmax < threshold plus a small smooth term (mean of a sigmoid of the
    distance to the threshold) that still ranks members when none pass. ``fastest``: the mean of
    −λmax/|threshold| (clipped), pushing for the fastest dynamics. Non-finite λmax count as failures."""
    lam = np.where(np.isfinite(lambda_max), lambda_max, np.inf)
    if mode == "incidence":
        incidence = float(np.mean(lam < threshold))
        smooth = float(np.mean(1.0 / (1.0 + np.exp(np.clip((lam - threshold) / shaping_scale, -50, 50)))))
        return incidence + shaping_weight * smooth
    if mode == "fastest":
        scale = abs(threshold) or 1.0
        return float(np.mean(np.clip(-lam / scale, -10.0, 10.0)))
    raise ValueError(f"unknown reward mode {mode!r}; valid: {', '.join(REWARD_MODES)}")
