"""`kinlatent tune hparams_search=…`: a Ray Tune sweep over a job's config, launched from Hydra.

Steps: check the sweep before anything starts (:func:`kinlatent.tune.spec.check_sweep`: space, metric, scheduler,
search algorithm, resources, the job's config composed with every candidate value); start or join Ray; open the
sweep's MLflow parent run; run a ``tune.Tuner`` (or, with ``resume=true``, ``Tuner.restore`` of the same
experiment directory: finished trials are kept, unfinished and errored ones run again) whose trials are child
runs; write the table (``results.csv``, ``results.md``) and the best trial's ``best_overrides.yaml``; register the
best generator (training sweeps).

Outputs in ``output.dir``: ``trials/`` (the Ray Tune experiment), ``sweep.json`` (what the sweep is, its parent
run, status), ``results.csv``, ``results.md``, ``best_overrides.yaml``.
"""
from __future__ import annotations

import json
import logging
import os
import shlex
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError, KinlatentError
from kinlatent.pipelines.config_values import section
from kinlatent.sampling.dataset import write_atomic_bytes
from kinlatent.tracking import flatten_config
from kinlatent.tune import results as tables
from kinlatent.tune.spec import SweepSpec, check_sweep

logger = logging.getLogger(__name__)
EXPERIMENT_NAME = "trials"
STATE_FILE = "sweep.json"


@dataclass(frozen=True)
class TuneResult:
    directory: Path
    experiment_dir: Path
    rows: list[tables.TrialRow]
    best: tables.TrialRow | None
    best_overrides: list[str] | None
    run_id: str | None
    model_uri: str | None
    report: str


def _trainable(spec: SweepSpec):
    from ray import tune

    from kinlatent.tune import trainables

    if spec.job.name == "train":
        kind = spec.base["generator"]["kind"]
        function = tune.with_parameters(trainables.train_trial, overrides=spec.fixed_overrides,
                                        eval_every=spec.eval_every,
                                        steps_key="generations" if kind == "nes" else "epochs")
    else:
        function = tune.with_parameters(trainables.explore_trial, overrides=spec.fixed_overrides)
    return tune.with_resources(function, {"cpu": spec.resources["cpu"], "gpu": spec.resources["gpu"]})


def _scheduler(spec: SweepSpec):
    if spec.scheduler["name"] != "asha":
        return None
    from ray.tune.schedulers import ASHAScheduler

    return ASHAScheduler(time_attr="training_iteration", max_t=spec.scheduler["max_t"],
                         grace_period=spec.scheduler["grace_period"],
                         reduction_factor=spec.scheduler["reduction_factor"], brackets=spec.scheduler["brackets"])


def _search_alg(spec: SweepSpec):
    if spec.search_alg["name"] == "optuna":
        from ray.tune.search.optuna import OptunaSearch

        return OptunaSearch(seed=spec.search_alg["seed"])
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(random_state=spec.search_alg["seed"])


def _check_resources(spec: SweepSpec, cluster: Mapping[str, Any]) -> None:
    for resource, key in (("cpu", "CPU"), ("gpu", "GPU")):
        if spec.resources[resource] > float(cluster.get(key, 0.0)):
            raise ConfigError(f"a trial asks for {spec.resources[resource]:g} {key}(s) but the Ray cluster has "
                              f"{float(cluster.get(key, 0.0)):g}: no trial could ever start",
                              key=f"hparams_search.resources.{resource}")


def _report(spec: SweepSpec, directory: Path, rows: list[tables.TrialRow], best: tables.TrialRow | None,
            overrides: list[str] | None, seconds: float, run_id: str | None, tracking_uri: str | None) -> str:
    counts = tables.summary_counts(rows)
    lines = [f"sweep {spec.name}: {counts['n_trials']} trials ({counts['n_complete']} complete, "
             f"{counts['n_stopped_early']} stopped early, {counts['n_error']} failed) in {seconds:.1f} s"]
    if best is not None and overrides is not None:
        lines.append(f"best trial {best.trial_id}: {spec.metric} = {best.value(spec.metric):.4g}")
        lines.append(f"rerun it: kinlatent {spec.job.command} " + " ".join(shlex.quote(o) for o in overrides))
    lines.append(f"table: {directory / 'results.md'}")
    if run_id and tracking_uri:
        from kinlatent.pipelines.pipeline import absolute_uri

        lines.append(f"MLflow parent run {run_id}: mlflow ui --backend-store-uri {absolute_uri(tracking_uri)}")
    return "\n".join(lines) + "\n"


def _setting(container: Mapping[str, Any], key: str, default: Any, kind: type) -> Any:
    value = container.get(key, default)
    if kind is bool and not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {value!r}", key=key)
    if kind is int and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(f"must be an integer >= 0, got {value!r}", key=key)
    return value


def run_tune(cfg: DictConfig | Mapping[str, Any]) -> TuneResult:
    """Run (or resume) a sweep as configured; see the module docstring."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    spec = check_sweep(container)
    resume = _setting(container, "resume", False, bool)
    verbose = _setting(container, "verbose", 1, int)
    max_failures = _setting(container, "max_failures", 0, int)
    reuse_actors = _setting(container, "reuse_actors", True, bool)
    directory = Path(str(section(container, "output").get("dir"))).expanduser().resolve()
    experiment_dir = directory / EXPERIMENT_NAME
    state_path = directory / STATE_FILE
    fingerprint = spec.fingerprint()

    from ray.tune import Tuner

    # a trial's only checkpoint (its generator, at the end) forces an experiment snapshot: what resume relies on
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    state: dict[str, Any] = json.loads(state_path.read_text()) if state_path.is_file() else {}
    restorable = Tuner.can_restore(experiment_dir)
    if resume and restorable and state.get("fingerprint") not in (None, fingerprint):
        raise ConfigError(f"the sweep in {directory} was started with another search space or settings; resume it "
                          "with the same hparams_search and overrides, or start a new one (name=…)",
                          key="hparams_search")
    if not resume and (restorable or state):
        raise ConfigError(f"a sweep already exists in {directory}: continue it with resume=true, or choose another "
                          "name=… / output.dir=…", key="output.dir")
    if resume and not restorable:
        logger.warning("nothing to resume in %s: starting the sweep", experiment_dir)
        resume = False

    from kinlatent.distributed.runtime import init_ray

    _check_resources(spec, init_ray(section(container, "ray")))

    tracking = container.get("tracking") or {}
    tracking_uri = tracking.get("uri") if tracking.get("enabled") else None
    run_id: str | None = None
    model_uri: str | None = None
    started = time.perf_counter()
    directory.mkdir(parents=True, exist_ok=True)
    callbacks = []
    if tracking_uri:
        from kinlatent.tune.tracking import NestedMLflowCallback, start_parent_run

        experiment = tracking.get("experiment") or "kinlatent-tune"
        run_id = start_parent_run(tracking_uri, experiment, tracking.get("run_name") or f"tune-{spec.name}",
                                  state.get("parent_run_id") if resume else None)
        if run_id != state.get("parent_run_id"):
            import mlflow

            params = flatten_config({k: v for k, v in container.items() if k not in ("hydra",)})
            items = list(params.items())
            for start in range(0, len(items), 100):
                mlflow.log_params(dict(items[start:start + 100]))
            mlflow.set_tags({"kinlatent.sweep": spec.name, "kinlatent.job": spec.job.name})
        callbacks.append(NestedMLflowCallback(tracking_uri, experiment, run_id, spec.fixed_overrides))
    state = {"name": spec.name, "job": spec.job.name, "fingerprint": fingerprint, "parent_run_id": run_id,
             "tracking_uri": tracking_uri, "experiment_dir": str(experiment_dir), "status": "running",
             "created": state.get("created") or datetime.now(timezone.utc).isoformat(),
             "fixed_overrides": spec.fixed_overrides, "metric": spec.metric, "mode": spec.mode}
    write_atomic_bytes(state_path, json.dumps(state, indent=2).encode())

    failed = True
    try:
        trainable = _trainable(spec)
        if resume:
            logger.info("resuming sweep %s from %s", spec.name, experiment_dir)
            tuner = Tuner.restore(str(experiment_dir), trainable, resume_unfinished=True, restart_errored=True)
        else:
            from ray import tune

            from kinlatent.tune.space import to_tune

            tuner = Tuner(trainable, param_space=to_tune(spec.params),
                          tune_config=tune.TuneConfig(metric=spec.metric, mode=spec.mode,
                                                      num_samples=spec.num_samples, scheduler=_scheduler(spec),
                                                      search_alg=_search_alg(spec),
                                                      max_concurrent_trials=spec.max_concurrent,
                                                      reuse_actors=reuse_actors),
                          run_config=tune.RunConfig(name=EXPERIMENT_NAME, storage_path=str(directory),
                                                    callbacks=callbacks, verbose=verbose,
                                                    failure_config=tune.FailureConfig(max_failures=max_failures),
                                                    checkpoint_config=tune.CheckpointConfig(num_to_keep=1)))
        grid = tuner.fit()
        rows = tables.trial_rows(grid, spec)
        best = tables.best_row(rows, spec)
        header, body = tables.table(rows, spec)
        csv_path, md_path = tables.write_table(directory, header, body,
                                               f"sweep {spec.name}: {spec.metric} ({spec.mode})")
        overrides = tables.best_overrides(spec, best) if best is not None else None
        best_path = tables.write_best_overrides(directory, spec, best) if best is not None else None
        seconds = time.perf_counter() - started
        if run_id:
            import mlflow

            counts = tables.summary_counts(rows)
            metrics = {f"sweep/{k}": float(v) for k, v in counts.items()}
            metrics["sweep/wall_seconds"] = seconds
            if best is not None:
                metrics[f"best/{spec.metric}"] = best.value(spec.metric)
            mlflow.log_metrics(metrics)
            for path in (csv_path, md_path, best_path):
                if path is not None:
                    mlflow.log_artifact(str(path))
            if best is not None:
                from kinlatent.tune.tracking import child_runs, register_generator

                child = child_runs(tracking_uri, run_id).get(best.trial_id)
                mlflow.set_tags({"best_trial_id": best.trial_id, "best_run_id": child or ""})
                if spec.job.name == "train" and best.checkpoint:
                    name = container.get("registered_name") or spec.base["generator"].get("registered_name")
                    model_uri = register_generator(best.checkpoint, child, name)
        state.update(status="complete", n_trials=len(rows), best_trial_id=best.trial_id if best else None,
                     best_value=best.value(spec.metric) if best else None, model_uri=model_uri,
                     finished=datetime.now(timezone.utc).isoformat())
        write_atomic_bytes(state_path, json.dumps(state, indent=2, default=float).encode())
        failed = False
    finally:
        if run_id:
            import mlflow

            mlflow.end_run(status="FAILED" if failed else "FINISHED")
    report = _report(spec, directory, rows, best, overrides, seconds, run_id, tracking_uri)
    logger.info("sweep %s finished: %d trials, results in %s", spec.name, len(rows), directory)
    if best is None:
        errors = [r.error for r in rows if r.error]
        raise KinlatentError(f"no trial of sweep {spec.name} completed"
                             + (f"; first error: {errors[0]}" if errors else "")
                             + f" (table: {md_path})", source=experiment_dir)
    return TuneResult(directory, experiment_dir, rows, best, overrides, run_id, model_uri, report)
