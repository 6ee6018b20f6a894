"""Experiment tracking (MLflow) and plots."""
from kinlatent.tracking.mlflow_run import NullTracker, Tracker, flatten_config, make_tracker

__all__ = ["NullTracker", "Tracker", "flatten_config", "make_tracker"]
