"""Eigenvalues of batches of Jacobians: λmax = max Re eig, robust to non-finite matrices."""
from __future__ import annotations

import torch
from torch import Tensor


def eigenvalues(jacobians: Tensor) -> Tensor:
    """Complex eigenvalues (B, n) of a batch (B, n, n); rows of a non-finite matrix are NaN (no LAPACK call)."""
    finite = torch.isfinite(jacobians).flatten(1).all(dim=1)
    if bool(finite.all()):
        return torch.linalg.eigvals(jacobians)
    complex_dtype = torch.complex128 if jacobians.dtype == torch.float64 else torch.complex64
    out = torch.full(jacobians.shape[:-1], complex(float("nan"), float("nan")), dtype=complex_dtype,
                     device=jacobians.device)
    if bool(finite.any()):
        out[finite] = torch.linalg.eigvals(jacobians[finite])
    return out


def lambda_max(jacobians: Tensor) -> Tensor:
    """Largest real part of the eigenvalues of each matrix, (B,); NaN for non-finite matrices."""
    return eigenvalues(jacobians).real.max(dim=-1).values


def leading_eigenvalues(values: Tensor, k: int = 5) -> Tensor:
    """The k eigenvalues with the largest real part, sorted descending, (B, k) complex."""
    order = torch.argsort(values.real, dim=-1, descending=True)[..., :k]
    return torch.gather(values, -1, order)
