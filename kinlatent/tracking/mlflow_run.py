"""One MLflow run per job: flattened config as params, `stage/quantity` metrics, artifacts, dataset inputs.

The tracking URI comes from config (default ``sqlite:///mlflow.db``, or ``$MLFLOW_TRACKING_URI``). With
tracking disabled a :class:`NullTracker` with the same methods does nothing.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError

logger = logging.getLogger(__name__)
_MAX_PARAM_LENGTH = 6000


def flatten_config(config: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested mapping → {'a.b.c': 'value'}; lists as JSON; values cut to MLflow's length limit."""
    flat: dict[str, str] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten_config(value, f"{name}."))
        else:
            text = json.dumps(value) if isinstance(value, (list, tuple)) else str(value)
            flat[name] = text[:_MAX_PARAM_LENGTH]
    return flat


class NullTracker:
    """Tracking switched off: every call is accepted and ignored."""

    run_id: str | None = None
    tracking_uri: str | None = None

    def __enter__(self) -> "NullTracker":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def log_params(self, params: Mapping[str, Any]) -> None: ...

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None: ...

    def log_dict(self, payload: Mapping[str, Any], name: str) -> None: ...

    def log_figure(self, figure: Any, name: str) -> None: ...

    def log_dataset(self, source: str, name: str, digest: str, columns: Mapping[str, str],
                    context: str = "training") -> None: ...

    def set_tags(self, tags: Mapping[str, str]) -> None: ...


class Tracker(NullTracker):
    """An active MLflow run (started on enter, ended FINISHED or FAILED on exit)."""

    def __init__(self, tracking_uri: str, experiment: str, run_name: str | None = None,
                 nested: bool = False, tags: Mapping[str, str] | None = None) -> None:
        import mlflow

        self._mlflow = mlflow
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.run_name = run_name
        self.nested = nested
        self.tags = dict(tags or {})
        self.run_id = None

    def __enter__(self) -> "Tracker":
        mlflow = self._mlflow
        mlflow.set_tracking_uri(self.tracking_uri)
        try:
            mlflow.set_experiment(self.experiment)
        except Exception as error:  # noqa: BLE001 - MLflow raises many types for a bad store
            raise ConfigError(f"cannot use MLflow tracking store {self.tracking_uri!r}: {error}",
                              key="tracking.uri") from error
        run = mlflow.start_run(run_name=self.run_name, nested=self.nested, tags=self.tags)
        self.run_id = run.info.run_id
        logger.info("MLflow run %s in experiment %r at %s", self.run_id, self.experiment, self.tracking_uri)
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self._mlflow.end_run(status="FAILED" if exc_type else "FINISHED")

    def log_params(self, params: Mapping[str, Any]) -> None:
        items = list(params.items())
        for start in range(0, len(items), 100):
            self._mlflow.log_params(dict(items[start:start + 100]))

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def log_artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        self._mlflow.log_artifact(str(path), artifact_path=artifact_path)

    def log_dict(self, payload: Mapping[str, Any], name: str) -> None:
        self._mlflow.log_dict(dict(payload), name)

    def log_figure(self, figure: Any, name: str) -> None:
        self._mlflow.log_figure(figure, name)

    def log_dataset(self, source: str, name: str, digest: str, columns: Mapping[str, str],
                    context: str = "training") -> None:
        """Record a dataset input by reference (its Parquet location), with its schema — no data copied."""
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.data.sources import LocalArtifactDatasetSource
        from mlflow.types.schema import ColSpec, Schema

        schema = Schema([ColSpec(type=dtype, name=column) for column, dtype in columns.items()])
        dataset = MetaDataset(source=LocalArtifactDatasetSource(source), name=name, digest=digest[:36],
                              schema=schema)
        self._mlflow.log_input(dataset, context=context)

    def set_tags(self, tags: Mapping[str, str]) -> None:
        self._mlflow.set_tags(dict(tags))


def make_tracker(tracking: Mapping[str, Any] | None, run_name: str | None = None,
                 experiment: str | None = None, nested: bool = False) -> NullTracker:
    """A :class:`Tracker` when ``tracking.enabled``, else a :class:`NullTracker`."""
    if not tracking or not tracking.get("enabled", False):
        return NullTracker()
    uri = tracking.get("uri")
    if not uri or not isinstance(uri, str):
        raise ConfigError(f"tracking.uri must be a non-empty string, got {uri!r}", key="tracking.uri")
    nested = nested or bool(tracking.get("nested", False))  # a step of a pipeline: child of the active run
    return Tracker(uri, experiment or tracking.get("experiment") or "kinlatent", run_name=run_name, nested=nested)
