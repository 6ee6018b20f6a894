"""The sampling job: ORACLE training set sampled and validated in Ray tasks, shard by shard, tracked in MLflow.

``run_sample(cfg)`` is the testable stage behind ``jobs/sample.py`` and ``kinlatent sample``. Everything in the
config is checked before any work starts; shards are written atomically and skipped when rerun (resume).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf

from kinlatent.distributed.runtime import init_ray
from kinlatent.distributed.sample_tasks import NonlinearCheck, ShardJob, sample_shard
from kinlatent.exceptions import ConfigError, KinlatentError
from kinlatent.physiology import Physiology, load_physiology
from kinlatent.pipelines.config_values import (
    boolean, finite_float, non_negative_int, positive_int, section,
)
from kinlatent.sampling.dataset import (
    MANIFEST, SCHEMA_VERSION, check_resumable, iter_batches, plan_shards, shard_is_complete, write_manifest,
)
from kinlatent.sampling.saturation import SaturationConfig, SaturationSampler
from kinlatent.tracking import flatten_config, make_tracker

logger = logging.getLogger(__name__)


class ShardFailedError(KinlatentError, RuntimeError):
    """A shard task failed for good (retries used up)."""


QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


@dataclass(frozen=True)
class SampleResult:
    directory: Path
    n_rows: int
    frac_valid: float
    lambda_max_quantiles: dict[str, float]
    models_per_s: float
    shards_computed: int
    shards_skipped: int
    run_id: str | None


@dataclass(frozen=True)
class SampleSettings:
    model_path: Path
    state_path: Path | None
    state_row: str | int | None
    steady_state: bool
    n_samples: int
    shard_size: int
    seed: int
    threshold: float
    chunk_size: int
    saturation: SaturationConfig
    nonlinear: NonlinearCheck
    directory: Path
    ray: Mapping[str, Any]
    num_gpus_per_task: float
    max_retries: int
    max_in_flight: int
    crash_once_shards: tuple[int, ...]
    progress: bool


def parse_settings(cfg: Mapping[str, Any]) -> SampleSettings:
    """Check and type every value the job uses; raise :class:`ConfigError` naming the key."""
    model = section(cfg, "model")
    sampler = section(cfg, "sampler")
    ray_cfg = section(cfg, "ray")
    output = section(cfg, "output")
    model_path = Path(str(model.get("path")))
    if not model_path.is_file():
        raise ConfigError(f"model file not found: {model_path} (set KINLATENT_MODELS_DIR or model.path)",
                          key="model.path")
    state = model.get("state")
    state_path = Path(str(state)) if state else None
    if state_path is not None and not state_path.is_file():
        raise ConfigError(f"state file not found: {state_path}", key="model.state")
    saturation = section(sampler, "saturation", "sampler")
    bounds = dict(section(sampler, "bounds", "sampler", optional=True))
    fixed = dict(section(sampler, "fixed_km", "sampler", optional=True))
    nonlinear = dict(section(sampler, "nonlinear", "sampler", optional=True))
    gpus = ray_cfg.get("num_gpus_per_task", 0) or 0
    if isinstance(gpus, bool) or not isinstance(gpus, (int, float)) or gpus < 0:
        raise ConfigError(f"must be a number >= 0, got {gpus!r}", key="ray.num_gpus_per_task")
    fault = cfg.get("fault") or {}
    crash_list = fault.get("crash_once_shards") or ()
    if not isinstance(crash_list, (list, tuple)) or not all(isinstance(i, int) for i in crash_list):
        raise ConfigError(f"must be a list of shard indices, got {crash_list!r}", key="fault.crash_once_shards")
    crash = tuple(crash_list)
    directory = output.get("dir")
    if not directory:
        raise ConfigError("output directory not set", key="output.dir")
    return SampleSettings(
        model_path=model_path,
        state_path=state_path,
        state_row=model.get("state_row"),
        steady_state=boolean(model, "steady_state", "model", default=True),
        n_samples=positive_int(sampler, "n_samples", "sampler"),
        shard_size=positive_int(sampler, "shard_size", "sampler"),
        seed=non_negative_int(sampler, "seed", "sampler"),
        threshold=finite_float(sampler, "threshold", "sampler"),
        chunk_size=positive_int(sampler, "chunk_size", "sampler"),
        saturation=SaturationConfig(
            low=finite_float(saturation, "low", "sampler.saturation"),
            high=finite_float(saturation, "high", "sampler.saturation"),
            bounds={str(k): tuple(v) if isinstance(v, (list, tuple)) else v for k, v in bounds.items()},
            fixed_km={str(k): v for k, v in fixed.items()},
        ),
        nonlinear=NonlinearCheck(
            enabled=boolean(nonlinear, "enabled", "sampler.nonlinear"),
            rows_per_shard=non_negative_int(nonlinear, "rows_per_shard", "sampler.nonlinear")
            if "rows_per_shard" in nonlinear else 2,
            factor_low=finite_float(nonlinear, "factor_low", "sampler.nonlinear") if "factor_low" in nonlinear else 0.5,
            factor_high=finite_float(nonlinear, "factor_high", "sampler.nonlinear")
            if "factor_high" in nonlinear else 2.0,
            horizon_h=finite_float(nonlinear, "horizon_h", "sampler.nonlinear") if "horizon_h" in nonlinear else 5.0,
            tolerance=finite_float(nonlinear, "tolerance", "sampler.nonlinear") if "tolerance" in nonlinear else 0.01,
        ),
        directory=Path(str(directory)),
        ray=dict(ray_cfg),
        num_gpus_per_task=float(gpus),
        max_retries=non_negative_int(ray_cfg, "max_retries", "ray") if "max_retries" in ray_cfg else 3,
        max_in_flight=positive_int(ray_cfg, "max_in_flight", "ray") if "max_in_flight" in ray_cfg else 16,
        crash_once_shards=crash,
        progress=bool(cfg.get("progress", True)),
    )


def _identity(settings: SampleSettings, physiology: Physiology) -> dict[str, Any]:
    """What makes two runs produce the same dataset (resume is allowed only when it matches)."""
    return {
        "schema_version": SCHEMA_VERSION,
        "model_sha256": physiology.model.fingerprint(),
        "steady_state_sha256": physiology.fingerprint,
        "n_samples": settings.n_samples,
        "shard_size": settings.shard_size,
        "seed": settings.seed,
        "threshold": settings.threshold,
        "saturation": json.loads(json.dumps(asdict(settings.saturation))),
        "nonlinear": asdict(settings.nonlinear),
    }


def _run_shards(settings: SampleSettings, physiology: Physiology, pending: list) -> list[dict[str, Any]]:
    import ray
    from tqdm import tqdm

    job = ShardJob(directory=str(settings.directory), seed=settings.seed, threshold=settings.threshold,
                   saturation=settings.saturation, nonlinear=settings.nonlinear, chunk_size=settings.chunk_size,
                   crash_once_shards=settings.crash_once_shards)
    remote = ray.remote(sample_shard).options(
        num_cpus=1, num_gpus=settings.num_gpus_per_task, max_retries=settings.max_retries, retry_exceptions=True,
    )
    physiology_ref = ray.put(physiology)
    use_cuda = settings.num_gpus_per_task > 0
    summaries: list[dict[str, Any]] = []
    queue = list(pending)
    in_flight: list = []
    with tqdm(total=len(pending), desc="shards", unit="shard", disable=not settings.progress) as bar:
        while queue or in_flight:
            while queue and len(in_flight) < settings.max_in_flight:
                in_flight.append(remote.remote(physiology_ref, job, queue.pop(0), use_cuda))
            done, in_flight = ray.wait(in_flight, num_returns=1)
            try:
                summary = ray.get(done[0])
            except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError) as error:
                for ref in in_flight:
                    ray.cancel(ref)
                cause = str(error).strip().splitlines()[-1][:500]
                raise ShardFailedError(
                    f"a shard task failed after {settings.max_retries} retries ({cause}); finished shards are kept: "
                    "rerun the same command to resume", source=settings.directory, key="shards") from error
            summaries.append(summary)
            bar.update(1)
            bar.set_postfix(valid=f"{summary['valid'] / summary['rows']:.2f}")
    return summaries


def _dataset_metrics(directory: Path, threshold: float) -> tuple[int, float, dict[str, float], np.ndarray]:
    """Streamed over shards: row count, valid fraction, λmax quantiles (only λmax is held: 8 bytes/row)."""
    lam_parts, n_valid, n_rows = [], 0, 0
    for frame in iter_batches(directory, columns=["lambda_max", "valid"], require_complete=False):
        lam_parts.append(frame["lambda_max"].to_numpy())
        n_valid += int(frame["valid"].sum())
        n_rows += len(frame)
    lam = np.concatenate(lam_parts) if lam_parts else np.empty(0)
    finite = lam[np.isfinite(lam)]
    quantiles = {f"validate/lambda_max_q{int(q * 100):02d}": float(np.quantile(finite, q)) for q in QUANTILES} \
        if finite.size else {}
    return n_rows, n_valid / max(n_rows, 1), quantiles, lam


def run_sample(cfg: DictConfig | Mapping[str, Any]) -> SampleResult:
    """Sample and validate ``sampler.n_samples`` ORACLE sets as Ray tasks, resumably; log the run to MLflow."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    settings = parse_settings(container)
    physiology = load_physiology(settings.model_path, settings.state_path, settings.state_row,
                                 find_steady=settings.steady_state)
    sampler = SaturationSampler(physiology, settings.saturation)  # validates bounds and fixed Km names
    identity = _identity(settings, physiology)
    existing = check_resumable(settings.directory, identity)
    tracking = container.get("tracking") or {}
    tracker = make_tracker(tracking, run_name=tracking.get("run_name") or f"sample-{physiology.model.name}",
                           experiment=tracking.get("experiment") or "kinlatent-sample")
    init_ray(settings.ray)

    shards = plan_shards(settings.n_samples, settings.shard_size)
    manifest: dict[str, Any] = {
        "kind": "kinlatent.oracle_training_set",
        "identity": identity,
        "status": "running",
        "created": (existing or {}).get("created") or datetime.now(timezone.utc).isoformat(),
        "model_file": str(settings.model_path),
        "state_file": str(settings.state_path) if settings.state_path else None,
        "km_columns": list(sampler.km_names),
        "km_units": "ln(Km / uM)",
        "columns": list(sampler.km_names) + ["lambda_max", "status", "valid", "label", "row", "seed", "shard"]
        + (["nonlinear_ok"] if settings.nonlinear.enabled else []),
        "config": container,
        "shards": [{"index": s.index, "file": s.file_name, "start": s.start, "stop": s.stop, "rows": s.rows}
                   for s in shards],
    }
    with tracker:
        tracker.log_params(flatten_config(container))
        write_manifest(settings.directory, manifest)
        pending = [s for s in shards if not shard_is_complete(settings.directory, s)]
        skipped = len(shards) - len(pending)
        if skipped:
            logger.info("resuming: %d of %d shards already complete", skipped, len(shards))
        started = time.perf_counter()
        summaries = _run_shards(settings, physiology, pending)
        elapsed = time.perf_counter() - started
        computed_rows = sum(s["rows"] for s in summaries)
        n_rows, frac_valid, quantiles, lam = _dataset_metrics(settings.directory, settings.threshold)
        if n_rows != settings.n_samples:
            raise ConfigError(f"dataset has {n_rows} rows, expected {settings.n_samples}", key="output.dir",
                              source=settings.directory)
        manifest.update(status="complete", n_rows=n_rows, n_valid=int(round(frac_valid * n_rows)),
                        completed=datetime.now(timezone.utc).isoformat())
        write_manifest(settings.directory, manifest)
        models_per_s = computed_rows / elapsed if computed_rows else 0.0
        tracker.log_metrics({"sample/n_rows": n_rows, "validate/frac_valid": frac_valid,
                             "sample/models_per_s": models_per_s, "sample/shards_skipped": skipped, **quantiles})
        tracker.log_artifact(settings.directory / MANIFEST)
        from kinlatent.tracking.plots import lambda_max_histogram

        figure = lambda_max_histogram(lam, settings.threshold)
        tracker.log_figure(figure, "lambda_max_histogram.png")
        import matplotlib.pyplot as plt

        plt.close(figure)
        column_types = {name: "double" for name in sampler.km_names}
        column_types.update(lambda_max="double", status="string", valid="boolean", label="integer", row="long",
                            seed="long", shard="integer")
        tracker.log_dataset(str(settings.directory.resolve()), name=f"oracle-{physiology.model.name}",
                            digest=physiology.fingerprint, columns=column_types)
        tracker.set_tags({"kinlatent.dataset": str(settings.directory.resolve())})
    logger.info("dataset %s: %d rows, %.1f%% valid, %.0f models/s", settings.directory, n_rows,
                100 * frac_valid, models_per_s)
    return SampleResult(settings.directory, n_rows, frac_valid, quantiles, models_per_s, len(summaries), skipped,
                        tracker.run_id)
