"""Validation of ORACLE parameter sets: λmax, a status per row, and the valid label."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from kinlatent.stability import OracleStability

STATUS_OK = "ok"
STATUS_UNSTABLE = "unstable"
STATUS_NON_FINITE = "non_finite"
STATUS_INCONSISTENT = "inconsistent"
STATUSES = (STATUS_OK, STATUS_UNSTABLE, STATUS_NON_FINITE, STATUS_INCONSISTENT)


@dataclass(frozen=True)
class Validation:
    """Per-row results: λmax (1/h), status (see :data:`STATUSES`) and valid (λmax < threshold, status ok)."""

    lambda_max: np.ndarray
    status: np.ndarray
    valid: np.ndarray


def validate(oracle: OracleStability, ln_km: np.ndarray | torch.Tensor, threshold: float,
             chunk_size: int = 2048) -> Validation:
    """λmax of every set; status: non_finite (NaN/inf λmax or vmax), inconsistent (a negative vmax: the
    physiology's flux direction is out of reach), unstable (λmax ≥ 0), else ok."""
    with torch.no_grad():
        result = oracle.evaluate(torch.as_tensor(ln_km), chunk_size=chunk_size)
    lam = result.lambda_max.cpu().numpy()
    finite = np.isfinite(lam) & torch.isfinite(result.vmax).all(dim=1).cpu().numpy()
    consistent = result.consistent.cpu().numpy()
    status = np.full(lam.shape, STATUS_OK, dtype=object)
    status[lam >= 0] = STATUS_UNSTABLE
    status[~consistent] = STATUS_INCONSISTENT
    status[~finite] = STATUS_NON_FINITE
    valid = (status == STATUS_OK) & (lam < threshold)
    return Validation(lam, status.astype(str), valid)
