"""The Ray task of the sampling job: sample + validate one shard and write it atomically."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinlatent.physiology import Physiology
from kinlatent.sampling.dataset import Shard, shard_table, write_shard
from kinlatent.sampling.saturation import SaturationConfig, SaturationSampler
from kinlatent.sampling.validation import validate


@dataclass(frozen=True)
class NonlinearCheck:
    enabled: bool = False
    rows_per_shard: int = 2
    factor_low: float = 0.5
    factor_high: float = 2.0
    horizon_h: float = 5.0
    tolerance: float = 0.01


@dataclass(frozen=True)
class ShardJob:
    """Everything a shard task needs besides the physiology (which travels through the object store)."""

    directory: str
    seed: int
    threshold: float
    saturation: SaturationConfig
    nonlinear: NonlinearCheck
    chunk_size: int = 2048
    crash_once_shards: tuple[int, ...] = ()


def _inject_fault(job: ShardJob, shard: Shard) -> None:
    """Test-only: kill this worker process the first time it runs a listed shard (Ray then retries it)."""
    if shard.index not in job.crash_once_shards:
        return
    marker = Path(job.directory) / ".faults" / f"crashed-{shard.index:05d}"
    marker.parent.mkdir(parents=True, exist_ok=True)
    if not marker.exists():
        marker.touch()
        os._exit(17)


def sample_shard(physiology: Physiology, job: ShardJob, shard: Shard, use_cuda: bool = False) -> dict[str, Any]:
    """Sample, validate and write one shard; returns its summary (rows, valid count, seconds)."""
    started = time.perf_counter()
    torch.set_num_threads(1)
    _inject_fault(job, shard)
    device = "cuda" if use_cuda and torch.cuda.is_available() else "cpu"
    sampler = SaturationSampler(physiology, job.saturation)
    ln_km = sampler.sample(shard.start, shard.stop, job.seed)
    result = validate(physiology.oracle(device), ln_km, job.threshold, chunk_size=job.chunk_size)
    columns: dict[str, np.ndarray] = {
        "lambda_max": result.lambda_max,
        "status": result.status,
        "valid": result.valid,
        "label": result.valid.astype(np.int8),
        "row": np.arange(shard.start, shard.stop, dtype=np.int64),
        "seed": np.full(shard.rows, job.seed, dtype=np.int64),
        "shard": np.full(shard.rows, shard.index, dtype=np.int32),
    }
    if job.nonlinear.enabled:
        from kinlatent.stability.nonlinear import returns_to_steady_state

        checked = np.full(shard.rows, np.nan)
        candidates = np.flatnonzero(result.valid)[: job.nonlinear.rows_per_shard]
        if candidates.size:
            ok = returns_to_steady_state(
                physiology, ln_km[candidates], seed=job.seed * 1_000_003 + shard.index,
                factor_low=job.nonlinear.factor_low, factor_high=job.nonlinear.factor_high,
                horizon_h=job.nonlinear.horizon_h, tolerance=job.nonlinear.tolerance,
            )
            checked[candidates] = ok.astype(float)
        columns["nonlinear_ok"] = checked
    write_shard(shard_table(sampler.km_names, ln_km, columns), Path(job.directory), shard)
    return {"index": shard.index, "rows": shard.rows, "valid": int(result.valid.sum()),
            "seconds": time.perf_counter() - started, "device": device}
