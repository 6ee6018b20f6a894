"""MLflow for sweeps: one parent run per sweep, every trial a nested child run (Ray Tune's
:class:`MLflowLoggerCallback` with the parent's id as ``mlflow.parentRunId``), reused by trial id when a sweep is
resumed, and the best generator registered from its trial's checkpoint."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Mapping

from ray.air.integrations.mlflow import MLflowLoggerCallback

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

logger = logging.getLogger(__name__)
PARENT_TAG = "mlflow.parentRunId"
TRIAL_TAG = "kinlatent.trial_id"
METRIC_PREFIXES = ("train/", "eval/", "final/", "explore/")
EXTRA_METRICS = ("step", "training_iteration", "time_total_s")


class NestedMLflowCallback(MLflowLoggerCallback):
    """Trials as child runs of ``parent_run_id``: params = the trial's sampled values plus its full override
    list; metrics = the job's ``stage/quantity`` metrics per report (step = training_iteration). A trial that is
    resumed after the driver was interrupted continues its existing child run instead of opening another."""

    def __init__(self, tracking_uri: str, experiment_name: str, parent_run_id: str,
                 fixed_overrides: list[str]) -> None:
        super().__init__(tracking_uri, experiment_name=experiment_name,
                         tags={PARENT_TAG: parent_run_id, "kinlatent.sweep_parent": parent_run_id})
        self.parent_run_id = parent_run_id
        self.fixed_overrides = list(fixed_overrides)

    def _existing_run(self, trial: "Trial") -> str | None:
        client = self.mlflow_util._get_client()
        runs = client.search_runs([self.mlflow_util.experiment_id],
                                  filter_string=f"tags.`{PARENT_TAG}` = '{self.parent_run_id}' and "
                                                f"tags.`{TRIAL_TAG}` = '{trial.trial_id}'", max_results=1)
        return runs[0].info.run_id if runs else None

    def log_trial_start(self, trial: "Trial") -> None:
        from kinlatent.tune.space import merge_overrides, trial_overrides

        if trial in self._trial_runs:
            return
        run_id = self._existing_run(trial)
        client = self.mlflow_util._get_client()
        if run_id is None:
            tags = {**self.tags, TRIAL_TAG: trial.trial_id, "trial_name": str(trial)}
            run_id = self.mlflow_util.start_run(tags=tags, run_name=str(trial)).info.run_id
            params = {key: str(value)[:6000] for key, value in trial.config.items()}
            params["overrides"] = " ".join(merge_overrides(self.fixed_overrides, trial_overrides(trial.config)))[:6000]
            from mlflow.entities import Param

            client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()])
        else:
            client.update_run(run_id, status="RUNNING")
            logger.info("trial %s continues MLflow run %s", trial.trial_id, run_id)
        self._trial_runs[trial] = run_id

    def log_trial_result(self, iteration: int, trial: "Trial", result: Mapping[str, Any]) -> None:
        import math

        from mlflow.entities import Metric

        step = int(result.get("training_iteration") or iteration)
        metrics = [Metric(key, float(value), int(result.get("timestamp", 0)) * 1000, step)
                   for key, value in result.items()
                   if (key.startswith(METRIC_PREFIXES) or key in EXTRA_METRICS)
                   and isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)]
        if metrics:
            self.mlflow_util._get_client().log_batch(self._trial_runs[trial], metrics=metrics)


def start_parent_run(tracking_uri: str, experiment: str, run_name: str, run_id: str | None) -> str:
    """Start (or, resuming, reopen) the sweep's parent run as the active run; returns its id."""
    import mlflow

    from kinlatent.exceptions import ConfigError

    mlflow.set_tracking_uri(tracking_uri)
    try:
        experiment_id = mlflow.set_experiment(experiment).experiment_id
    except Exception as error:  # noqa: BLE001 - MLflow raises many types for a bad store
        raise ConfigError(f"cannot use MLflow tracking store {tracking_uri!r}: {error}", key="tracking.uri") from error
    if run_id is not None:
        try:
            return mlflow.start_run(run_id=run_id).info.run_id
        except Exception as error:  # noqa: BLE001
            logger.warning("cannot reopen the sweep's parent run %s (%s): starting a new one", run_id, error)
    return mlflow.start_run(run_name=run_name, experiment_id=experiment_id).info.run_id


def child_runs(tracking_uri: str, parent_run_id: str) -> dict[str, str]:
    """``{trial id: child run id}`` of a sweep's parent run."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri)
    parent = client.get_run(parent_run_id)
    runs = client.search_runs([parent.info.experiment_id], filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'")
    return {run.data.tags.get(TRIAL_TAG, run.info.run_id): run.info.run_id for run in runs}


def register_generator(checkpoint_dir: str, child_run_id: str | None, registered_name: str | None) -> str:
    """Log the generator saved in a trial's checkpoint as an MLflow model in the trial's child run (the parent
    run when unknown) and register it under ``registered_name``; returns the model URI."""
    import mlflow

    from kinlatent.generators.card import load_generator
    from kinlatent.tracking.generator_model import log_generator

    generator, card = load_generator(checkpoint_dir)
    if child_run_id is None:
        return log_generator(generator, card, registered_name)
    with mlflow.start_run(run_id=child_run_id, nested=True):
        return log_generator(generator, card, registered_name)
