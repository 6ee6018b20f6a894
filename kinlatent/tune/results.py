"""A finished sweep as a table (CSV + Markdown), its best trial and that trial's overrides file."""
from __future__ import annotations

import csv
import io
import math
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from kinlatent.sampling.dataset import write_atomic_bytes
from kinlatent.tune.space import merge_overrides, trial_overrides
from kinlatent.tune.spec import SweepSpec

EXPLORE_COLUMNS = (("hit_rate", "explore/hit_rate"), ("n_found", "explore/n_found"),
                   ("evaluations", "explore/evaluations"), ("evaluations_per_hit", "explore/evaluations_per_hit"),
                   ("diversity", "explore/diversity"), ("wall_seconds", "explore/wall_seconds"))


@dataclass(frozen=True)
class TrialRow:
    trial_id: str
    status: str                    # complete | stopped early | error
    config: dict[str, Any]         # the sampled values
    metrics: dict[str, Any]        # the trial's last result
    checkpoint: str | None         # the trial's saved generator (training sweeps)
    error: str | None
    path: str | None = None        # the trial's directory

    def value(self, metric: str) -> float:
        value = self.metrics.get(metric)
        return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def trial_rows(results: Iterable[Any], spec: SweepSpec) -> list[TrialRow]:
    """Rows of a Ray Tune ``ResultGrid`` in trial order."""
    rows = []
    for result in results:
        metrics = dict(result.metrics or {})
        checkpoint = result.checkpoint.path if result.checkpoint is not None else None
        if result.error is not None:
            status = "error"
        elif spec.job.name == "train":
            status = "complete" if checkpoint else "stopped early"
        else:
            status = "complete" if spec.metric in metrics else "stopped early"
        trial_id = str(metrics.get("trial_id") or Path(result.path).name)
        rows.append(TrialRow(trial_id, status, dict(result.config or {}), metrics, checkpoint,
                             None if result.error is None else str(result.error).splitlines()[0][:300],
                             str(result.path)))
    return rows


def best_row(rows: list[TrialRow], spec: SweepSpec) -> TrialRow | None:
    """The best complete trial by the sweep's metric (its last result); ties: the earlier trial."""
    complete = [r for r in rows if r.status == "complete" and math.isfinite(r.value(spec.metric))]
    if not complete:
        return None
    sign = -1.0 if spec.mode == "max" else 1.0
    return min(complete, key=lambda r: sign * r.value(spec.metric))


def _described_target(row: TrialRow) -> str | None:
    """The target as the exploration described it (``lambda_max in [-12, -8]``), reported with its result."""
    value = row.metrics.get("target_description")
    return str(value) if value else None


def table(rows: list[TrialRow], spec: SweepSpec) -> tuple[list[str], list[list[Any]]]:
    """Header and rows. Latent sweeps: target, method, seed, hit rate, evaluations, diversity, wall; training
    sweeps: the sampled values, the metric, final/frac_valid, results reported, seconds."""
    base = spec.base
    if spec.job.name == "explore":
        header = ["trial_id", "target", "window", "method", "seed"] + [name for name, _ in EXPLORE_COLUMNS] \
            + ["status"]
        body = []
        for r in rows:
            target = r.config.get("target", (base.get("target") or {}).get("name"))
            method = r.config.get("search", (base.get("search") or {}).get("method"))
            body.append([r.trial_id, target, _described_target(r), method, r.config.get("seed", base.get("seed"))]
                        + [r.metrics.get(key) for _, key in EXPLORE_COLUMNS] + [r.status])
        return header, body
    keys = list(spec.params)
    header = ["trial_id"] + keys + [spec.metric, "final/frac_valid", "results", "seconds", "status"]
    body = [[r.trial_id] + [r.config.get(k) for k in keys]
            + [r.metrics.get(spec.metric), r.metrics.get("final/frac_valid"), r.metrics.get("training_iteration"),
               r.metrics.get("time_total_s"), r.status] for r in rows]
    return header, body


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"
    return str(value)


def write_table(directory: Path, header: list[str], body: list[list[Any]], title: str) -> tuple[Path, Path]:
    """``results.csv`` and ``results.md`` in ``directory`` (written atomically)."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows([["" if v is None else v for v in row] for row in body])
    csv_path, md_path = directory / "results.csv", directory / "results.md"
    write_atomic_bytes(csv_path, text.getvalue().encode())
    lines = [f"# {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in body]
    write_atomic_bytes(md_path, ("\n".join(lines) + "\n").encode())
    return csv_path, md_path


def best_overrides(spec: SweepSpec, row: TrialRow) -> list[str]:
    """The overrides that rerun the best trial with ``kinlatent <job>``."""
    return merge_overrides(spec.fixed_overrides, trial_overrides(row.config))


def write_best_overrides(directory: Path, spec: SweepSpec, row: TrialRow) -> Path:
    """``best_overrides.yaml``: a YAML list of ``key=value`` overrides of ``kinlatent <job>``."""
    overrides = best_overrides(spec, row)
    command = f"kinlatent {spec.job.command} " + " ".join(shlex.quote(o) for o in overrides)
    header = (f"# best trial {row.trial_id} of sweep {spec.name}: {spec.metric} = {row.value(spec.metric):.6g}"
              f" ({spec.mode})\n# rerun: {command}\n")
    path = directory / "best_overrides.yaml"
    write_atomic_bytes(path, (header + yaml.safe_dump(overrides, default_flow_style=False, width=1000)).encode())
    return path


def read_overrides(path: str | Path) -> list[str]:
    """The overrides list of a ``best_overrides.yaml``."""
    values = yaml.safe_load(Path(path).read_text())
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        from kinlatent.exceptions import ConfigError

        raise ConfigError("expected a YAML list of key=value overrides", source=path)
    return values


def summary_counts(rows: list[TrialRow]) -> Mapping[str, int]:
    counts = {"n_trials": len(rows)}
    for status in ("complete", "stopped early", "error"):
        counts[f"n_{status.replace(' ', '_')}"] = sum(r.status == status for r in rows)
    return counts
