"""A sweep checked before any trial starts: the job, its fixed overrides, the search space, metric and mode,
scheduler, search algorithm, trial resources and sample count (``hparams_search`` + the ``tune`` config).

Everything here runs without Ray: a bad key, distribution, bound, metric or setting is a
:class:`~kinlatent.exceptions.ConfigError` naming the key. The job's config is composed (Hydra) with the fixed
overrides and every candidate value of the space, so unknown keys and config-group options fail here too.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError
from kinlatent.pipelines.config_values import positive_int, section
from kinlatent.tune.jobs import TunableJob, compose_job_config, get_job, known_metrics, steps_and_reports
from kinlatent.tune.space import Param, merge_overrides, override_value, parse_space

PREFIX = "hparams_search"
SCHEDULERS = ("asha", "fifo")
SEARCH_ALGORITHMS = ("random", "optuna")
_PLUMBING = ("output", "tracking", "hydra")  # set by the trainable for every trial


@dataclass(frozen=True)
class SweepSpec:
    name: str
    job: TunableJob
    params: dict[str, Param]
    fixed_overrides: list[str]       # every trial (and best_overrides.yaml) starts with these
    metric: str
    mode: str
    num_samples: int
    scheduler: dict[str, Any]        # name + ASHA settings (max_t resolved)
    search_alg: dict[str, Any]       # name + seed
    resources: dict[str, float]      # {"cpu": …, "gpu": …}
    max_concurrent: int | None
    base: dict[str, Any] = field(repr=False)  # the job's config with the fixed overrides (first candidates)
    eval_every: int = 0
    reports: int = 1                 # results reported per complete trial

    def fingerprint(self) -> str:
        """What must not change when an interrupted sweep is resumed."""
        payload = {"job": self.job.name, "fixed": self.fixed_overrides, "metric": self.metric, "mode": self.mode,
                   "space": {k: [p.distribution, list(p.args)] for k, p in self.params.items()},
                   "num_samples": self.num_samples, "scheduler": self.scheduler, "search_alg": self.search_alg,
                   "resources": self.resources}
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _choice(value: Any, valid: tuple[str, ...], key: str, default: str) -> str:
    value = default if value is None else value
    if value not in valid:
        raise ConfigError(f"unknown {key.rsplit('.', 1)[-1]} {value!r}; valid: {', '.join(valid)}", key=key)
    return str(value)


def _number(config: Mapping[str, Any], key: str, prefix: str, minimum: float, strict: bool,
            default: float | None = None) -> float:
    value = config.get(key, default)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ConfigError(f"must be a number {relation} {minimum:g}, got {value!r}", key=f"{prefix}.{key}")
    return float(value)


def _optional_positive_int(config: Mapping[str, Any], key: str, prefix: str) -> int | None:
    if config.get(key) is None:
        return None
    return positive_int(config, key, prefix)


def _fixed_overrides(container: Mapping[str, Any], search: Mapping[str, Any], job: TunableJob) -> list[str]:
    overrides = search.get("overrides") or []
    extra = container.get("overrides") or []
    for where, values in ((f"{PREFIX}.overrides", overrides), ("overrides", extra)):
        if not isinstance(values, (list, tuple)) or not all(isinstance(v, str) and "=" in v for v in values):
            raise ConfigError(f"must be a list of key=value overrides, got {values!r}", key=where)
    fixed = list(overrides)
    if container.get("model") is not None:
        fixed.append(f"model={override_value(container['model'])}")
    for key in ("data", "source"):
        value = container.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise ConfigError(f"must be a path, got {value!r}", key=key)
        if key == "data" and job.name != "train" or key == "source" and job.name != "explore":
            raise ConfigError(f"{key}= is for {'generator training' if key == 'data' else 'latent'} sweeps; this "
                              f"sweep tunes kinlatent {job.command}", key=key)
        if ":/" not in value:  # a local path: absolute, since trials run in their own directories
            path = Path(value).expanduser().resolve()
            if not path.exists():
                raise ConfigError(f"not found: {value}", key=key)
            value = str(path)
        fixed.append(f"{key}={override_value(value)}")
    return merge_overrides(fixed, list(extra))


def _check_job_config(job: TunableJob, container: Mapping[str, Any], fixed: list[str]) -> None:
    if job.name == "explore":
        source = container.get("source")
        if not source:
            raise ConfigError("a latent-target sweep explores one trained generator: source=PATH_OR_MLFLOW_URI",
                              key="source")
        return
    generator = container.get("generator") or {}
    if generator.get("kind") == "gan" and not container.get("data"):
        raise ConfigError("a GAN sweep needs a training set: data=PATH (a directory written by kinlatent sample)",
                          key="data")
    if generator.get("kind") == "nes" and generator.get("use_ray", True):
        raise ConfigError("trials run side by side, one per CPU: set generator.use_ray=false in the sweep's "
                          "overrides (NES without nested Ray tasks)", key="generator.use_ray")


def check_sweep(container: Mapping[str, Any]) -> SweepSpec:
    """Check the ``tune`` config (resolved container) and return the sweep; see the module docstring."""
    search = section(container, PREFIX)
    from kinlatent.pipelines.config_values import only_known_keys

    only_known_keys(search, {"name", "job", "overrides", "metric", "mode", "num_samples", "space", "scheduler",
                             "search_alg", "max_concurrent", "resources"}, PREFIX, "search-space")
    name = search.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"must be a non-empty name, got {name!r}", key=f"{PREFIX}.name")
    job = get_job(search.get("job"))
    params = parse_space(search.get("space"), f"{PREFIX}.space")
    for key in params:
        if key.split(".", 1)[0] in _PLUMBING:
            raise ConfigError("set by the sweep for every trial; cannot be searched", key=f"{PREFIX}.space.{key}")
    metric = search.get("metric")
    if not isinstance(metric, str) or not metric:
        raise ConfigError(f"must be a metric name, got {metric!r}", key=f"{PREFIX}.metric")
    mode = _choice(search.get("mode"), ("min", "max"), f"{PREFIX}.mode", "")
    num_samples = positive_int(search, "num_samples", PREFIX)

    scheduler_cfg = section(search, "scheduler", PREFIX, optional=True)
    scheduler: dict[str, Any] = {"name": _choice(scheduler_cfg.get("name"), SCHEDULERS, f"{PREFIX}.scheduler.name",
                                                 "asha")}
    if scheduler["name"] == "asha":
        where = f"{PREFIX}.scheduler"
        scheduler["grace_period"] = _optional_positive_int(scheduler_cfg, "grace_period", where) or 1
        scheduler["reduction_factor"] = _number(scheduler_cfg, "reduction_factor", where, 1.0, True, 2.0)
        scheduler["brackets"] = _optional_positive_int(scheduler_cfg, "brackets", where) or 1
        scheduler["max_t"] = _optional_positive_int(scheduler_cfg, "max_t", where)
    unknown = sorted(set(scheduler_cfg) - {"name", "grace_period", "reduction_factor", "brackets", "max_t"})
    if unknown:
        raise ConfigError(f"unknown scheduler setting(s) {unknown}", key=f"{PREFIX}.scheduler.{unknown[0]}")

    algorithm_cfg = section(search, "search_alg", PREFIX, optional=True)
    algorithm = {"name": _choice(algorithm_cfg.get("name"), SEARCH_ALGORITHMS, f"{PREFIX}.search_alg.name",
                                 "random"),
                 "seed": algorithm_cfg.get("seed", 0)}
    if algorithm["seed"] is not None and (isinstance(algorithm["seed"], bool) or not isinstance(algorithm["seed"], int)
                                          or algorithm["seed"] < 0):
        raise ConfigError(f"must be an integer >= 0 or null, got {algorithm['seed']!r}",
                          key=f"{PREFIX}.search_alg.seed")
    if algorithm["name"] == "optuna":
        grids = [k for k, p in params.items() if p.distribution == "grid"]
        if grids:
            raise ConfigError("Optuna samples its own points and cannot enumerate a grid: use choice",
                              key=f"{PREFIX}.space.{grids[0]}")
        try:
            import optuna  # noqa: F401
        except ImportError as error:
            raise ConfigError("search_alg optuna needs the optuna package (pip install optuna)",
                              key=f"{PREFIX}.search_alg.name") from error

    resources_cfg = section(search, "resources", PREFIX, optional=True)
    resources = {"cpu": _number(resources_cfg, "cpu", f"{PREFIX}.resources", 0.0, True, 1.0),
                 "gpu": _number(resources_cfg, "gpu", f"{PREFIX}.resources", 0.0, False, 0.0)}
    max_concurrent = _optional_positive_int(search, "max_concurrent", PREFIX)

    fixed = _fixed_overrides(container, search, job)
    # compose the job with the fixed overrides and every candidate value: unknown keys, bad group options
    candidates = [[f"{k}={override_value(p.values[0]) if not isinstance(p.values[0], str) else p.values[0]}"
                   for k, p in params.items()]]
    for key, param in params.items():
        for value in param.values[1:]:
            text = value if isinstance(value, str) else override_value(value)
            candidates.append([o for o in candidates[0] if not o.startswith(f"{key}=")] + [f"{key}={text}"])
    from omegaconf import OmegaConf

    try:
        composed = [OmegaConf.to_container(compose_job_config(job.config_name, fixed + c), resolve=False)
                    for c in candidates]
    except ConfigError as error:
        if error.key in params:  # name the space entry, not the job's key
            raise ConfigError(error.detail, key=f"{PREFIX}.space.{error.key}") from error
        raise
    base = composed[0]
    _check_job_config(job, base, fixed)
    metrics = known_metrics(job, base)
    if metric not in metrics:
        raise ConfigError(f"metric {metric!r} is not reported by the {job.name} trainable"
                          + (f" (generator={base['generator'].get('kind')}, eval_every="
                             f"{base['generator'].get('eval_every')})" if job.name == "train" else "")
                          + f"; reported: {', '.join(metrics)}", key=f"{PREFIX}.metric")
    eval_every, reports = 0, 1
    if job.name == "train":
        counts = [steps_and_reports(job, c.get("generator") or {}) for c in composed]
        reports = max(count for _, count in counts)
        eval_every = int(base["generator"].get("eval_every") or 0)
        if "generator.eval_every" in params:
            raise ConfigError("the evaluation interval decides when trials report: keep it fixed",
                              key=f"{PREFIX}.space.generator.eval_every")
    if scheduler["name"] == "asha":
        scheduler["max_t"] = scheduler["max_t"] or reports
        if scheduler["grace_period"] > scheduler["max_t"]:
            raise ConfigError(f"must be <= max_t ({scheduler['max_t']} results per trial)",
                              key=f"{PREFIX}.scheduler.grace_period")
    return SweepSpec(name=name, job=job, params=params, fixed_overrides=fixed, metric=metric, mode=mode,
                     num_samples=num_samples, scheduler=scheduler, search_alg=algorithm, resources=resources,
                     max_concurrent=max_concurrent, base=base, eval_every=eval_every, reports=reports)
