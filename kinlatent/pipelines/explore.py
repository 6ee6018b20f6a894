"""`kinlatent explore generator=… target=… search=…` (``source=…`` for python jobs/explore.py): steer a trained generator to models with chosen properties.

Steps: check config, generator card, target and search settings (all before any work); evaluate prior samples
(the rejection baseline, the latent map and the prior distribution); run the search as ``workers`` independent
Ray tasks; merge and de-duplicate; recompute every constraint of every found set with a fresh kinetic core;
write the ensemble (Parquet shards + manifest, the training-set schema plus property columns; latent points in
``latent.npy``) and a ``summary.json``; log metrics and figures to MLflow.
"""
from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError
from kinlatent.generators.card import weights_sha256
from kinlatent.latent.ensemble import mean_pairwise_distance, recheck
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.runner import SearchUnit, check_search, run_unit
from kinlatent.latent.search import LatentProblem, fit_direction, interpolate, merge_results, walk_direction
from kinlatent.latent.targets import TargetSet, parse_target
from kinlatent.physiology import Physiology, physiology_from_config
from kinlatent.pipelines.config_values import non_negative_int, positive_int, section
from kinlatent.sampling.dataset import SCHEMA_VERSION, Shard, check_resumable, shard_table, write_atomic_bytes, \
    write_manifest, write_shard
from kinlatent.sampling.validation import validate
from kinlatent.tracking import flatten_config, make_tracker

logger = logging.getLogger(__name__)
SUMMARY = "summary.json"


@dataclass(frozen=True)
class ExploreResult:
    directory: Path
    summary: dict[str, Any]
    run_id: str | None


def _run_units(physiology: Physiology, card, state_dict, units: list[SearchUnit], use_ray: bool,
               ray_settings: Mapping[str, Any]):
    if not use_ray:
        return [run_unit(physiology, card, state_dict, unit) for unit in units]
    import ray

    from kinlatent.distributed.runtime import init_ray

    init_ray(ray_settings)
    remote = ray.remote(run_unit).options(num_cpus=1, max_retries=int(ray_settings.get("max_retries", 3)))
    physiology_ref, state_ref = ray.put(physiology), ray.put(dict(state_dict))
    return ray.get([remote.remote(physiology_ref, card, state_ref, unit) for unit in units])


def _first_window(target: TargetSet) -> tuple[str, tuple[float, float] | None]:
    if target.windows:
        window = target.windows[0]
        return window.prop.text, (window.low, window.high)
    return target.properties[0].text, None


def run_explore(cfg: DictConfig | Mapping[str, Any]) -> ExploreResult:
    """Run one latent exploration as configured; see the module docstring."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    source = container.get("source")
    if not source or not isinstance(source, str):
        raise ConfigError("give the trained generator: kinlatent explore generator=PATH_OR_MLFLOW_URI "
                          "(python jobs/explore.py source=…)", key="source")
    n_models = positive_int(container, "n_models", "")
    seed = non_negative_int(container, "seed", "")
    workers = positive_int(container, "workers", "")
    prior_samples = positive_int(container, "prior_samples", "")
    search = dict(section(container, "search"))
    method = check_search(search)
    target_cfg = dict(section(container, "target"))
    directory = Path(str(section(container, "output").get("dir")))
    use_ray = bool(container.get("use_ray", True))
    tracking = container.get("tracking") or {}
    if tracking.get("enabled") and tracking.get("uri"):
        import mlflow

        mlflow.set_tracking_uri(tracking["uri"])
    from kinlatent.tracking.generator_model import load_generator_from_uri

    if not Path(source).exists() and ":/" not in source:
        raise ConfigError(f"generator not found: {source} (a directory written by kinlatent train, or an MLflow "
                          "model URI such as models:/NAME/1)", key="source")
    generator, card = load_generator_from_uri(source)
    physiology = physiology_from_config(section(container, "model"))
    card.check_model(physiology.model.fingerprint(), physiology.model.km_parameter_names, source=source)
    evaluator = PropertyEvaluator(physiology)
    target = parse_target(target_cfg, evaluator)
    max_evaluations = positive_int(search, "max_evaluations", "search")
    identity = {"schema_version": SCHEMA_VERSION, "kind": "kinlatent.latent_ensemble", "generator": source,
                "generator_weights_sha256": weights_sha256(generator),
                "target": target_cfg, "search": search, "n_models": n_models, "seed": seed, "workers": workers,
                "model_sha256": card.model_sha256, "steady_state_sha256": physiology.fingerprint}
    previous = check_resumable(directory, identity)
    if previous and previous.get("status") == "complete" and (directory / SUMMARY).is_file():
        logger.info("exploration already complete in %s", directory)
        return ExploreResult(directory, json.loads((directory / SUMMARY).read_text()), None)

    tracker = make_tracker(tracking, run_name=tracking.get("run_name") or f"explore-{target.name}-{method}",
                           experiment=tracking.get("experiment") or "kinlatent-explore")
    started = time.perf_counter()
    with tracker:
        tracker.log_params(flatten_config(container))
        manifest: dict[str, Any] = {"kind": "kinlatent.latent_ensemble", "identity": identity, "status": "running",
                                    "created": datetime.now(timezone.utc).isoformat(), "config": container,
                                    "km_columns": list(card.parameter_names), "km_units": "ln(Km / uM)",
                                    "target": target.describe(), "generator_card": card.to_dict()}
        write_manifest(directory, manifest)

        # prior: the baseline hit rate, the latent map and the prior distribution of the target's property
        problem = LatentProblem(generator, evaluator, target, condition=card.valid_condition)
        prior_z = problem.prior(prior_samples, seed + 10_000).numpy()
        prior_ln_km, prior_hit, _, prior_values = problem.assess_numpy(prior_z)
        prop, window = _first_window(target)

        per_unit = math.ceil(n_models / workers)
        units = [SearchUnit(search, target_cfg, per_unit, max(1, max_evaluations // workers), seed * 1000 + u)
                 for u in range(workers)]
        logger.info("searching %s with %s: %d unit(s) × %d models", target.describe(), method, workers, per_unit)
        results = _run_units(physiology, card, generator.state_dict(), units, use_ray, section(container, "ray"))
        found = merge_results(results, limit=n_models)
        search_seconds = time.perf_counter() - started

        # independent recomputation of every constraint from the stored ln Km
        check = recheck(physiology, target, found.ln_km)
        validation = validate(physiology.oracle(), found.ln_km, threshold=0.0)
        hit_rate = float(check.satisfied.mean()) if found.n_found else 0.0
        diversity = mean_pairwise_distance(found.ln_km)
        prior_diversity = mean_pairwise_distance(prior_ln_km[prior_hit]) if prior_hit.sum() > 1 else float("nan")
        columns: dict[str, np.ndarray] = {
            "lambda_max": validation.lambda_max, "status": validation.status, "valid": check.satisfied,
            "label": check.satisfied.astype(np.int8), "row": np.arange(found.n_found, dtype=np.int64),
            "seed": np.full(found.n_found, seed, dtype=np.int64), "shard": np.zeros(found.n_found, dtype=np.int32)}
        for name, values in check.values.items():
            if name != "lambda_max":
                columns[f"property:{name}"] = np.asarray(values, dtype=float)
        shard = Shard(0, 0, found.n_found)
        write_shard(shard_table(list(card.parameter_names), found.ln_km, columns), directory, shard)
        with open(directory / "latent.npy.tmp", "wb") as handle:
            np.save(handle, found.z)
        (directory / "latent.npy.tmp").replace(directory / "latent.npy")

        summary: dict[str, Any] = {
            "target": target.describe(), "method": method, "n_found": found.n_found, "n_wanted": n_models,
            "hit_rate": hit_rate, "n_hits": int(check.satisfied.sum()), "evaluations": found.evaluations,
            "evaluations_per_hit": found.evaluations / max(int(check.satisfied.sum()), 1),
            "diversity": diversity, "prior_hit_rate": float(prior_hit.mean()), "prior_diversity": prior_diversity,
            "search_seconds": search_seconds, "workers": workers,
        }
        if found.n_found and prop in check.values and np.issubdtype(np.asarray(check.values[prop]).dtype, np.floating):
            values = np.asarray(check.values[prop], dtype=float)
            summary.update({f"{prop}_median": float(np.nanmedian(values)), f"{prop}_min": float(np.nanmin(values)),
                            f"{prop}_max": float(np.nanmax(values))})
        if target.top_controller is not None:
            key = f"top_controller:{target.top_controller.flux}"
            prior_top = prior_values.get(key)
            if prior_top is not None:
                summary["prior_top_controller_frequency"] = float(np.mean(prior_top ==
                                                                          target.top_controller.enzyme_index))

        figures = _report(problem, prior_z, prior_values, found, prop, window, seed, summary)
        summary["wall_seconds"] = time.perf_counter() - started
        write_atomic_bytes(directory / SUMMARY, json.dumps(summary, indent=2, default=float).encode())
        manifest.update(status="complete", n_rows=found.n_found, n_valid=int(check.satisfied.sum()),
                        shards=[{"index": 0, "file": shard.file_name, "start": 0, "stop": found.n_found,
                                 "rows": found.n_found}])
        write_manifest(directory, manifest)
        tracker.log_metrics({f"explore/{k}": v for k, v in summary.items()
                             if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)})
        tracker.log_artifact(directory / SUMMARY)
        tracker.log_artifact(directory / "manifest.json")
        from kinlatent.tracking.plots import plt

        for name, figure in figures.items():
            tracker.log_figure(figure, name)
            plt.close(figure)
    logger.info("explore %s with %s: %d models, hit rate %.3f, %d evaluations, %.1f s", target.describe(), method,
                found.n_found, hit_rate, found.evaluations, summary["wall_seconds"])
    return ExploreResult(directory, summary, tracker.run_id)


def _report(problem: LatentProblem, prior_z: np.ndarray, prior_values: Mapping[str, np.ndarray], found, prop: str,
            window, seed: int, summary: dict[str, Any]) -> dict[str, Any]:
    """Figures (and direction/path numbers added to ``summary``): map, distributions, direction, paths."""
    from kinlatent.latent import plots

    figures = {}
    prior_prop = np.asarray(prior_values[prop], dtype=float)
    figures["latent_map.png"] = plots.latent_map(prior_z, prior_prop, found.z, prop)
    found_prop = np.asarray(found.values.get(prop, np.zeros(0)), dtype=float)
    figures["property_distribution.png"] = plots.property_distributions(prior_prop, found_prop, prop, window)
    direction_trace = found.trace.get("units", [{}])[0].get("direction") if found.trace else None
    try:
        direction = direction_trace or fit_direction(problem, prop, n_samples=min(len(prior_z), 2000), seed=seed)
        profile = walk_direction(problem, direction, np.linspace(-4, 4, 17), n_starts=100, seed=seed + 1)[0]
        summary.update(direction_r2=direction.r2, direction_spearman=profile.spearman)
        figures["direction_profile.png"] = plots.direction_profile(profile.steps, profile.mean, profile.q10,
                                                                   profile.q90, prop, profile.spearman)
    except ConfigError as error:  # a property with no linear trend: no direction plot
        logger.info("no latent direction for %s: %s", prop, error)
    ends = found.z[:2] if found.n_found >= 2 else problem.prior(2, seed + 2).numpy()
    paths = {kind: interpolate(problem, ends[0], ends[1], 21, kind) for kind in ("linear", "spherical")}
    figures["interpolation.png"] = plots.path_profiles({k: (p.t, p.values[prop]) for k, p in paths.items()}, prop)
    return figures
