"""The jobs a sweep can tune (generator training, latent exploration): their Hydra config, the metrics their
trainables report, and composing a trial's config from overrides (also inside a running Hydra job)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from omegaconf import DictConfig

from kinlatent.exceptions import ConfigError

TRAIN_METRICS = {
    "nes": ("train/reward", "train/reward_max", "train/lr", "train/generation_seconds"),
    "gan": ("train/loss_d", "train/loss_g", "train/epoch_seconds"),
}
GAN_EVAL_METRICS = ("eval/wasserstein_mean", "eval/wasserstein_max")
EVAL_METRICS = ("eval/frac_valid", "eval/lambda_max_median")
EXPLORE_METRICS = ("explore/hit_rate", "explore/n_found", "explore/n_hits", "explore/evaluations",
                   "explore/evaluations_per_hit", "explore/diversity", "explore/prior_hit_rate",
                   "explore/search_seconds", "explore/wall_seconds")


@dataclass(frozen=True)
class TunableJob:
    name: str          # train | explore
    config_name: str   # conf/<config_name>.yaml, the job's own config (best_overrides.yaml applies to it)
    command: str       # kinlatent <command>


JOBS = {"train": TunableJob("train", "train", "train"), "explore": TunableJob("explore", "explore", "explore")}


def get_job(name: Any) -> TunableJob:
    if name not in JOBS:
        raise ConfigError(f"unknown job {name!r}; valid: {', '.join(JOBS)}", key="hparams_search.job")
    return JOBS[name]


def compose_job_config(config_name: str, overrides: list[str]) -> DictConfig:
    """``conf/<config_name>.yaml`` with overrides, as ``kinlatent <job>`` composes it. Works inside a running
    Hydra job too (kinlatent tune): Hydra's global state is set aside meanwhile. Hydra errors become a
    :class:`ConfigError` naming the override."""
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.initialize import get_gh_backup, restore_gh_from_backup

    from kinlatent.hydra_app import compose_config

    backup = get_gh_backup() if GlobalHydra.instance().is_initialized() else None
    if backup is not None:
        GlobalHydra.instance().clear()
    try:
        return compose_config(config_name, overrides)
    except HydraException as error:
        text = " ".join(line.strip() for line in str(error).splitlines() if line.strip())
        text = text.split(" Config search path:")[0]
        named = re.search(r"override '([^']+)'", text)
        key = named.group(1) if named else next(
            (o.split("=", 1)[0].lstrip("+~") for o in overrides if o.split("=", 1)[0].lstrip("+~") in text), None)
        raise ConfigError(f"kinlatent {config_name} does not accept the override: {text}",
                          key=key or "overrides") from None  # Hydra's exceptions do not survive Ray's copies
    finally:
        if backup is not None:
            restore_gh_from_backup(backup)


def steps_and_reports(job: TunableJob, generator: Mapping[str, Any]) -> tuple[int, int]:
    """Training job: (steps, results reported per trial). A trial reports at every evaluated step (every
    ``eval_every`` steps and the last one), so that the metric is in every result."""
    if job.name != "train":
        return 1, 1
    steps = generator.get("generations" if generator.get("kind") == "nes" else "epochs")
    every = generator.get("eval_every")
    if not isinstance(steps, int) or isinstance(steps, bool) or steps <= 0:
        raise ConfigError(f"must be a positive integer, got {steps!r}",
                          key="generator.generations" if generator.get("kind") == "nes" else "generator.epochs")
    if not isinstance(every, int) or isinstance(every, bool) or every < 0:
        raise ConfigError(f"must be an integer >= 0, got {every!r}", key="generator.eval_every")
    if every == 0:
        return steps, steps
    return steps, len([s for s in range(1, steps + 1) if s % every == 0 or s == steps])


def known_metrics(job: TunableJob, container: Mapping[str, Any]) -> tuple[str, ...]:
    """Metrics in every result of the job's trainable (what a sweep can rank and schedule on)."""
    if job.name == "explore":
        return EXPLORE_METRICS
    generator = container.get("generator") or {}
    kind = generator.get("kind")
    names = list(TRAIN_METRICS.get(str(kind), ()))
    if generator.get("eval_every"):
        names += EVAL_METRICS + (GAN_EVAL_METRICS if kind == "gan" else ())
    return tuple(sorted(names))
