"""`kinlatent transfer-study study=…`: repurpose a generator across physiologies, conditions × methods × budgets.

Steps: check the study file (:func:`kinlatent.transfer.study.parse_study`), the source physiology (``model``)
and every condition's enzymes and species; compute every condition's steady state (refusing missing or unstable
ones) — all before any training; load the source generator (or train it with ``study.source_train``, kept in
``output.dir/source``); run every unfinished row as a Ray task; as each finishes, write its generator, ensemble
and ``row.json`` (last: a row with its ``row.json`` is finished) and log it as a nested MLflow child run of the
study's parent run; finally write ``results.csv``, ``results.md`` and ``incidence_vs_budget.png`` and log them.

Rerunning the same study reuses finished rows (same condition, method, budget, seed, settings and source) and
reopens the same parent run.
"""
from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError
from kinlatent.generators.card import GeneratorCard, save_generator, weights_sha256
from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
from kinlatent.physiology import Physiology, physiology_from_config
from kinlatent.pipelines.config_values import boolean, section
from kinlatent.sampling.dataset import Shard, shard_table, write_atomic_bytes, write_manifest, write_shard
from kinlatent.tracking import flatten_config
from kinlatent.transfer import report
from kinlatent.transfer.conditions import Condition, build_condition, check_perturbation
from kinlatent.transfer.generator_ops import unconditional
from kinlatent.transfer.methods import BUDGET_MEANING
from kinlatent.transfer.rows import RowResult, run_row
from kinlatent.transfer.study import StudyRow, StudySpec, parse_study, row_fingerprint

logger = logging.getLogger(__name__)
STATE_FILE = "study.json"
ROW_FILE = "row.json"


@dataclass(frozen=True)
class StudyResult:
    directory: Path
    rows: list[dict[str, Any]]
    reused: int
    run_id: str | None
    report: str      # the summary table (Markdown) and where the outputs are


def _source_generator(spec: StudySpec, container: Mapping[str, Any], directory: Path):
    """The source generator and card: loaded from ``study.source`` or trained once into ``directory/source``."""
    from kinlatent.tracking.generator_model import load_generator_from_uri

    if spec.source is not None:
        return load_generator_from_uri(spec.source), spec.source
    target = directory / "source"
    recipe = target / "source_train.json"
    if (target / "card.json").is_file():
        try:
            previous = json.loads(recipe.read_text())
        except (OSError, ValueError):
            previous = None
        if previous != list(spec.source_train):
            raise ConfigError(f"{target} holds a source generator trained with other overrides ({previous}); give "
                              "another output.dir or remove that directory", key="study.source_train")
        logger.info("reusing the source generator trained in %s", target)
        return load_generator_from_uri(str(target)), str(target)
    from kinlatent.pipelines.train import run_train
    from kinlatent.tune.jobs import compose_job_config

    cfg = compose_job_config("train", list(spec.source_train) + ["tracking=none", f"output.dir={target}"])
    cfg = OmegaConf.merge(cfg, {"model": dict(section(container, "model")), "ray": dict(section(container, "ray"))})
    logger.info("training the source generator (study.source_train) into %s", target)
    target.mkdir(parents=True, exist_ok=True)
    write_atomic_bytes(recipe, json.dumps(list(spec.source_train)).encode())  # first: an interrupted run resumes
    run_train(cfg)
    return load_generator_from_uri(str(target)), str(target)


def _row_record(row: StudyRow, condition: Condition, result: RowResult, fingerprint: str) -> dict[str, Any]:
    return {"key": row.key, "condition": row.condition, "method": row.task.method, "budget": row.task.budget,
            "budget_meaning": BUDGET_MEANING[row.task.method], "seed": row.task.seed,
            "threshold": row.task.threshold, "status": result.status, "flux_shift": condition.flux_shift,
            "max_flux_change": condition.max_flux_change, "concentration_shift": condition.concentration_shift,
            **{k.split("/", 1)[1]: v for k, v in result.metrics.items()}, "fingerprint": fingerprint}


def _write_row(directory: Path, row: StudyRow, condition: Condition, result: RowResult, record: dict[str, Any],
               source_card: GeneratorCard) -> None:
    """The row's generator, its ensemble and (last) row.json."""
    physiology = condition.physiology
    generator = MLPGenerator(GeneratorSpec.from_dict(result.spec), result.lower, result.upper)
    generator.load_state_dict(result.state_dict)
    card = GeneratorCard(kind=f"transfer:{row.task.method}", parameter_names=source_card.parameter_names,
                         spec=generator.spec, lower=tuple(result.lower), upper=tuple(result.upper),
                         model_name=physiology.model.name, model_sha256=physiology.model.fingerprint(),
                         physiology_sha256=physiology.fingerprint, threshold=row.task.threshold,
                         training={"source_model": source_card.model_name, "condition": condition.spec.to_dict(),
                                   "method": row.task.method, "budget": row.task.budget, "seed": row.task.seed,
                                   **result.metrics})
    save_generator(generator, card, directory / "generator")
    n = len(result.ensemble_lambda_max)
    columns = {"lambda_max": result.ensemble_lambda_max, "status": result.ensemble_status,
               "valid": result.ensemble_valid, "label": result.ensemble_valid.astype(np.int8),
               "row": np.arange(n, dtype=np.int64), "seed": np.full(n, result.eval_seed, dtype=np.int64),
               "shard": np.zeros(n, dtype=np.int32)}
    shard = Shard(0, 0, n)
    ensemble = directory / "ensemble"
    write_shard(shard_table(list(card.parameter_names), result.ensemble_ln_km, columns), ensemble, shard)
    write_manifest(ensemble, {
        "kind": "kinlatent.transfer_ensemble", "status": "complete", "n_rows": n,
        "n_valid": int(result.ensemble_valid.sum()), "created": datetime.now(timezone.utc).isoformat(),
        "km_columns": list(card.parameter_names), "km_units": "ln(Km / uM)", "generator_card": card.to_dict(),
        "identity": {"row": row.key, "fingerprint": record["fingerprint"],
                     "model_sha256": card.model_sha256, "steady_state_sha256": card.physiology_sha256},
        "shards": [{"index": 0, "file": shard.file_name, "start": 0, "stop": n, "rows": n}]})
    write_atomic_bytes(directory / ROW_FILE, json.dumps(record, indent=2, default=float).encode())


def _finished(directory: Path, fingerprint: str) -> dict[str, Any] | None:
    path = directory / ROW_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None  # damaged or from other settings: the row is computed again
    return record


def _log_child(tracking_uri: str, experiment_id: str, parent_run_id: str, record: dict[str, Any],
               directory: Path) -> str:
    """A nested child run for a finished row (params, metrics, the generator card and row.json)."""
    import mlflow
    from mlflow.entities import Metric, Param, RunTag

    client = mlflow.MlflowClient(tracking_uri)
    existing = client.search_runs([experiment_id], filter_string=f"tags.`mlflow.parentRunId` = '{parent_run_id}' "
                                                                 f"and tags.`kinlatent.study_row` = '{record['key']}'")
    for run in existing:  # a child logged before an interruption, its row.json not yet updated: replaced
        client.delete_run(run.info.run_id)
    run = client.create_run(experiment_id, run_name=record["key"],
                            tags={"mlflow.parentRunId": parent_run_id, "kinlatent.study_row": record["key"]})
    run_id = run.info.run_id
    now = int(time.time() * 1000)
    params = [Param(k, str(record[k])) for k in ("condition", "method", "budget", "budget_meaning", "seed",
                                                 "threshold", "status")]
    metrics = [Metric(f"transfer/{k}", float(v), now, 0) for k, v in record.items()
               if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("budget", "seed", "threshold")
               and np.isfinite(v)]
    client.log_batch(run_id, metrics=metrics, params=params, tags=[RunTag("kinlatent.condition", record["condition"])])
    client.log_artifact(run_id, str(directory / ROW_FILE))
    client.log_artifact(run_id, str(directory / "generator" / "card.json"), artifact_path="generator")
    client.log_artifact(run_id, str(directory / "generator" / "state_dict.pt"), artifact_path="generator")
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _check_output_dir(directory: Path) -> None:
    """The output directory is a directory we can write in (or can be created): checked before any work."""
    probe = directory
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise ConfigError(f"{probe} is not a directory: cannot write the study there", key="output.dir")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{probe} is not writable", key="output.dir")


def _check_store(uri: str) -> None:
    """The MLflow store answers (a sqlite file in a writable place, a reachable server): before any work."""
    import mlflow

    mlflow.set_tracking_uri(uri)  # also where a models:/ source is looked up
    try:
        mlflow.MlflowClient(uri).search_experiments(max_results=1)
    except Exception as error:  # noqa: BLE001 - MLflow raises many types for a bad store
        raise ConfigError(f"cannot use MLflow tracking store {uri!r}: {str(error).splitlines()[0][:300]}",
                          key="tracking.uri") from error


def _read_state(path: Path) -> dict[str, Any]:
    """study.json of an earlier run ({} when absent or damaged: the study continues under a new parent run)."""
    if not path.is_file():
        return {}
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        state = None
    if not isinstance(state, dict):
        logger.warning("%s is damaged: it is rewritten and the study gets a new MLflow parent run", path)
        return {}
    return state


def _conditions(spec: StudySpec, source: Physiology) -> dict[str, Condition]:
    for condition in spec.conditions:  # names first: a typo fails in a second, not after steady states
        if condition.model is None:
            check_perturbation(condition, source.model)
    return {c.name: build_condition(c, source) for c in spec.conditions}


def run_transfer_study(cfg: DictConfig | Mapping[str, Any]) -> StudyResult:
    """Run a transfer study as configured; see the module docstring."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    spec = parse_study(section(container, "study"))
    directory = Path(str(section(container, "output").get("dir")))
    _check_output_dir(directory)
    use_ray = boolean(container, "use_ray", "", default=True)
    progress = boolean(container, "progress", "", default=True)
    tracking = dict(container.get("tracking") or {})
    if tracking.get("enabled") and tracking.get("uri"):
        _check_store(str(tracking["uri"]))
    source_physiology = physiology_from_config(section(container, "model"))
    conditions = _conditions(spec, source_physiology)
    (generator, card), source_ref = _source_generator(spec, container, directory)
    card.check_model(source_physiology.model.fingerprint(), source_physiology.model.km_parameter_names,
                     source=source_ref)  # the source generator belongs to the source physiology's model
    source = unconditional(generator, card.valid_condition)
    source_sha = weights_sha256(source)
    rows = spec.rows(card.threshold)
    fingerprints = {r.key: row_fingerprint(r, conditions[r.condition].spec, source_sha, spec.eval_sets)
                    for r in rows}
    records: dict[str, dict[str, Any]] = {}
    for row in rows:
        done = _finished(directory / "rows" / row.key, fingerprints[row.key])
        if done is not None:
            records[row.key] = done
    reused = len(records)
    pending = [r for r in rows if r.key not in records]
    logger.info("study %s: %d rows (%d finished before, %d to run)", spec.name, len(rows), reused, len(pending))

    directory.mkdir(parents=True, exist_ok=True)
    state_path = directory / STATE_FILE
    state = _read_state(state_path)
    run_id, experiment_id, tracking_uri = None, None, None
    if tracking.get("enabled") and tracking.get("uri"):
        import mlflow

        from kinlatent.tune.tracking import start_parent_run

        tracking_uri = str(tracking["uri"])
        run_id = start_parent_run(tracking_uri, tracking.get("experiment") or "kinlatent-transfer",
                                  tracking.get("run_name") or f"transfer-study-{spec.name}", state.get("parent_run_id"))
        experiment_id = mlflow.get_run(run_id).info.experiment_id
        if run_id != state.get("parent_run_id"):
            items = list(flatten_config(container).items())
            for start in range(0, len(items), 100):
                mlflow.log_params(dict(items[start:start + 100]))
            mlflow.set_tags({"kinlatent.study": spec.name})
    write_atomic_bytes(state_path, json.dumps({
        "name": spec.name, "parent_run_id": run_id, "source": source_ref, "source_weights_sha256": source_sha,
        "updated": datetime.now(timezone.utc).isoformat(),
        "conditions": {n: {"flux_shift": c.flux_shift, "max_flux_change": c.max_flux_change,
                           "concentration_shift": c.concentration_shift,
                           "reference_lambda_max": c.reference_lambda_max, "spec": c.spec.to_dict()}
                       for n, c in conditions.items()}}, indent=2).encode())

    failed = True
    try:
        def track(record: dict[str, Any]) -> None:
            """The row's child run; its id goes into row.json."""
            row_dir = directory / "rows" / record["key"]
            record["child_run_id"] = _log_child(tracking_uri, experiment_id, run_id, record, row_dir)
            write_atomic_bytes(row_dir / ROW_FILE, json.dumps(record, indent=2, default=float).encode())

        for record in records.values():  # finished before an interruption but not yet tracked
            if run_id is not None and record.get("child_run_id") is None:
                track(record)
        for row, result in _execute(pending, conditions, source, spec.eval_sets, use_ray, section(container, "ray"),
                                    progress):
            row_dir = directory / "rows" / row.key
            record = _row_record(row, conditions[row.condition], result, fingerprints[row.key])
            _write_row(row_dir, row, conditions[row.condition], result, record, card)
            if run_id is not None:
                track(record)
            records[row.key] = record
            logger.info("%s: incidence %.3f → %.3f (%d evaluations, %.1f s)", row.key, record["incidence_before"],
                        record["incidence_after"], record["evaluations"], record["wall_seconds"])
        ordered = [records[r.key] for r in rows]
        table = report.write_summary(directory, ordered, spec.name)
        if run_id is not None:
            import mlflow

            for name in (report.CSV, report.MARKDOWN, report.PLOT, STATE_FILE):
                mlflow.log_artifact(str(directory / name))
            mlflow.log_metrics({"study/n_rows": len(ordered), "study/n_reused": reused,
                                "study/best_incidence_after": max(r["incidence_after"] for r in ordered)})
        failed = False
    finally:
        if run_id is not None:
            import mlflow

            mlflow.end_run(status="FAILED" if failed else "FINISHED")
    where = f"\noutputs: {directory}" + (f"; MLflow parent run {run_id} at {tracking_uri}" if run_id else "")
    return StudyResult(directory, ordered, reused, run_id, table + where + "\n")


def _execute(pending: list[StudyRow], conditions: Mapping[str, Condition], source: MLPGenerator, eval_sets: int,
             use_ray: bool, ray_settings: Mapping[str, Any], progress: bool):
    """Yield (row, result) as rows finish: Ray tasks (one CPU each), or in this process."""
    from tqdm import tqdm

    bar = tqdm(total=len(pending), desc="transfer rows", unit="row", disable=not progress or not pending)
    try:
        if not use_ray:
            for row in pending:
                condition = conditions[row.condition]
                result = run_row(source, condition.physiology, row.task, eval_sets, condition.km_shift)
                bar.update()
                yield row, result
            return
        import ray

        from kinlatent.distributed.runtime import init_ray

        init_ray(ray_settings)
        remote = ray.remote(run_row).options(num_cpus=1, max_retries=int(ray_settings.get("max_retries", 1)))
        source_ref = ray.put(source)
        physiology_refs = {name: ray.put(c.physiology) for name, c in conditions.items()}
        futures = {remote.remote(source_ref, physiology_refs[row.condition], row.task, eval_sets,
                                 conditions[row.condition].km_shift): row for row in pending}
        while futures:
            ready, _ = ray.wait(list(futures), num_returns=1)
            row = futures.pop(ready[0])
            result = ray.get(ready[0])
            bar.update()
            yield row, result
    finally:
        bar.close()

