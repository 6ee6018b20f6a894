"""Ray Tune trainables: one trial composes its job's config from the sweep's fixed overrides and its sampled
values, runs the job in the trial process (no nested Ray tasks, no MLflow run of its own: the driver's
callback records every trial as a child run) and reports with ``ray.tune.report``.

- ``train_trial``: :func:`kinlatent.pipelines.train.run_train`; reports at every evaluated step (so the
  metric is in every result and ASHA can stop a bad trial early); the last report adds ``final/frac_valid`` and
  the saved generator (card + weights) as the trial's checkpoint (a resumed trial that has it is done).
- ``explore_trial``: :func:`kinlatent.pipelines.explore.run_explore` into the trial directory; one report with
  the exploration summary as ``explore/*``.
"""
from __future__ import annotations

import logging
import math
import tempfile
from pathlib import Path
from typing import Any, Mapping

from kinlatent.tune.jobs import compose_job_config
from kinlatent.tune.space import merge_overrides, override_value, trial_overrides

logger = logging.getLogger(__name__)


def _trial_dir() -> Path:
    from ray import tune

    return Path(tune.get_context().get_trial_dir())


def train_trial(config: Mapping[str, Any], *, overrides: list[str], eval_every: int, steps_key: str) -> None:
    """One generator training run reporting to Ray Tune (see the module docstring)."""
    from ray import tune

    from kinlatent.pipelines.train import run_train

    if tune.get_checkpoint() is not None:  # the only checkpoint is the trained generator: the trial had finished
        logger.info("trial already trained its generator (resumed sweep): nothing to redo")
        return
    with tempfile.TemporaryDirectory(prefix="kinlatent-trial-") as tmp:
        output = override_value(str(Path(tmp) / "generator"))
        cfg = compose_job_config("train", merge_overrides(list(overrides), trial_overrides(config),
                                                          ["tracking=none", f"output.dir={output}"]))
        steps = int(cfg.generator[steps_key])
        pending: dict[str, float] = {}

        def on_step(step: int, metrics: dict[str, float]) -> None:
            pending.update(metrics)
            pending["step"] = step
            if step == steps:  # reported below with the final numbers and the generator
                return
            if not eval_every or step % eval_every == 0:
                tune.report(dict(pending))
                pending.clear()

        result = run_train(cfg, on_step=on_step)
        pending["final/frac_valid"] = result.frac_valid
        tune.report(dict(pending), checkpoint=tune.Checkpoint.from_directory(str(result.directory)))


def explore_trial(config: Mapping[str, Any], *, overrides: list[str]) -> None:
    """One latent exploration reporting its summary to Ray Tune (see the module docstring)."""
    from ray import tune

    from kinlatent.pipelines.explore import run_explore

    output = override_value(str(_trial_dir() / "explore"))
    cfg = compose_job_config("explore", merge_overrides(list(overrides), trial_overrides(config),
                                                        ["tracking=none", f"output.dir={output}"]))
    summary = run_explore(cfg).summary
    metrics = {f"explore/{key}": float(value) for key, value in summary.items()
               if isinstance(value, (int, float)) and not isinstance(value, bool)}
    metrics["explore/diversity"] = metrics.get("explore/diversity", math.nan)
    metrics["target_description"] = str(summary.get("target", ""))  # text: the result table's window column
    tune.report(metrics)
