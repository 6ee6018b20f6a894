"""`kinlatent generate SOURCE n=… seed=…`: a validated ensemble from a saved or registered generator.

The ensemble is written like a training set (Parquet shards + manifest, same columns), shard by shard with
bounded memory; every set is validated by the kinetic core at the generator's physiology.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError
from kinlatent.generators.card import weights_sha256
from kinlatent.generators.sampling import generate_ln_km
from kinlatent.physiology import load_physiology
from kinlatent.pipelines.config_values import finite_float, non_negative_int, positive_int, section
from kinlatent.sampling.dataset import SCHEMA_VERSION, check_resumable, plan_shards, shard_is_complete, \
    shard_table, write_manifest, write_shard
from kinlatent.sampling.validation import validate
from kinlatent.tracking import flatten_config, make_tracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GenerateResult:
    directory: Path
    n_rows: int
    frac_valid: float
    run_id: str | None


def run_generate(cfg: DictConfig | Mapping[str, Any]) -> GenerateResult:
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    source = container.get("source")
    if not source:
        raise ConfigError("give the generator: kinlatent generate PATH_OR_MLFLOW_URI (or source=...)", key="source")
    n = positive_int(container, "n", "")
    seed = non_negative_int(container, "seed", "")
    shard_size = positive_int(container, "shard_size", "")
    directory = Path(str(section(container, "output").get("dir")))
    model = section(container, "model")
    tracking = container.get("tracking") or {}
    from kinlatent.tracking.generator_model import load_generator_from_uri

    if tracking.get("enabled") and tracking.get("uri"):
        import mlflow

        mlflow.set_tracking_uri(tracking["uri"])
    generator, card = load_generator_from_uri(str(source))
    physiology = load_physiology(model["path"], model.get("state"), model.get("state_row"),
                                 find_steady=bool(model.get("steady_state", True)))
    card.check_model(physiology.model.fingerprint(), physiology.model.km_parameter_names, source=str(source))
    threshold = finite_float(container, "threshold", "") if container.get("threshold") is not None \
        else card.threshold
    identity = {"schema_version": SCHEMA_VERSION, "generator": str(source),
                "generator_weights_sha256": weights_sha256(generator), "n_samples": n, "seed": seed,
                "shard_size": shard_size, "threshold": threshold, "model_sha256": card.model_sha256,
                "steady_state_sha256": physiology.fingerprint}
    check_resumable(directory, identity)
    shards = plan_shards(n, shard_size)
    names = list(card.parameter_names)
    manifest: dict[str, Any] = {
        "kind": "kinlatent.generated_ensemble", "identity": identity, "status": "running",
        "created": datetime.now(timezone.utc).isoformat(), "km_columns": names, "km_units": "ln(Km / uM)",
        "config": container, "generator_card": card.to_dict(),
        "shards": [{"index": s.index, "file": s.file_name, "start": s.start, "stop": s.stop, "rows": s.rows}
                   for s in shards],
    }
    oracle = physiology.oracle()
    tracker = make_tracker(tracking, run_name=tracking.get("run_name") or f"generate-{card.kind}",
                           experiment=tracking.get("experiment") or "kinlatent-generate")
    n_valid = 0
    with tracker:
        tracker.log_params(flatten_config(container))
        write_manifest(directory, manifest)
        for shard in shards:
            if shard_is_complete(directory, shard):
                continue
            ln_km = torch.cat(list(generate_ln_km(generator, shard.rows, seed, condition=card.valid_condition,
                                                  start_row=shard.start))).numpy()
            result = validate(oracle, ln_km, threshold)
            columns = {"lambda_max": result.lambda_max, "status": result.status, "valid": result.valid,
                       "label": result.valid.astype(np.int8),
                       "row": np.arange(shard.start, shard.stop, dtype=np.int64),
                       "seed": np.full(shard.rows, seed, dtype=np.int64),
                       "shard": np.full(shard.rows, shard.index, dtype=np.int32)}
            write_shard(shard_table(names, ln_km, columns), directory, shard)
        from kinlatent.sampling.dataset import iter_batches

        for frame in iter_batches(directory, columns=["valid"], require_complete=False):
            n_valid += int(frame["valid"].sum())
        manifest.update(status="complete", n_rows=n, n_valid=n_valid)
        write_manifest(directory, manifest)
        tracker.log_metrics({"generate/n_rows": n, "eval/frac_valid": n_valid / n})
        tracker.log_artifact(directory / "manifest.json")
    logger.info("generated %d sets into %s: %.1f%% valid", n, directory, 100 * n_valid / n)
    return GenerateResult(directory, n, n_valid / n, tracker.run_id)
