"""`kinlatent pipeline`: the whole method in one command, each step a nested MLflow run.

steady state → ORACLE sampling + validation → generator training (NES or GAN) → latent exploration for the
configured target → a final validated ensemble from the generator. With no arguments it runs on the embedded
default model (cobra's E. coli core network with a synthetic thermodynamic state).

Outputs go to ``output.dir``: ``samples/`` (training set), ``generator-<hash>/`` (weights + card),
``explore-<hash>/`` (targeted ensemble), ``ensemble-<hash>/`` (generated ensemble), ``summary.json`` and
``summary.md``. ``<hash>`` identifies the generator's weights, so a retrained generator never mixes with results
of an earlier one. Rerunning resumes: finished steps are reused (``steps.json``).
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError, KinlatentError
from kinlatent.pipelines.config_values import non_negative_int, positive_int, section
from kinlatent.sampling.dataset import write_atomic_bytes
from kinlatent.tracking import flatten_config, make_tracker

logger = logging.getLogger(__name__)
STEPS_FILE = "steps.json"


@dataclass(frozen=True)
class PipelineResult:
    directory: Path
    summary: dict[str, Any]
    run_id: str | None
    report: str


def _fingerprint(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def absolute_uri(uri: str | None) -> str | None:
    """A relative sqlite URI made absolute, so that the printed `mlflow ui` command works from anywhere."""
    if uri and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        return "sqlite:///" + str(Path(uri[len("sqlite:///"):]).resolve())
    return uri


def generator_hash(directory: Path) -> str:
    """Short SHA-256 of a saved generator's weights file."""
    return hashlib.sha256((directory / "state_dict.pt").read_bytes()).hexdigest()[:10]


class StepLog:
    """Which steps finished with which settings (``steps.json``, written atomically after each step)."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / STEPS_FILE
        self.steps: dict[str, Any] = {}
        if self.path.is_file():
            try:
                self.steps = json.loads(self.path.read_text())
            except json.JSONDecodeError as error:
                raise ConfigError(f"corrupt {STEPS_FILE}: {error}; delete it to recompute every step",
                                  key="output.dir", source=self.path) from error

    def done(self, name: str, fingerprint: str) -> dict[str, Any] | None:
        entry = self.steps.get(name)
        return entry["result"] if entry and entry.get("fingerprint") == fingerprint else None

    def record(self, name: str, fingerprint: str, result: dict[str, Any]) -> None:
        self.steps[name] = {"fingerprint": fingerprint, "result": result}
        write_atomic_bytes(self.path, json.dumps(self.steps, indent=2, default=str).encode())


def _steady_state_step(model: Mapping[str, Any]) -> dict[str, Any]:
    from kinlatent.physiology import physiology_from_config
    from kinlatent.stability.steady_state import relative_residual

    physiology = physiology_from_config(model)
    oracle = physiology.oracle()
    result: dict[str, Any] = {"model": physiology.model.name, "n_reactions": physiology.model.n_reactions,
                              "n_km": oracle.n_km}
    try:  # fully parameterized models: residual and λmax of the published/reference parameter set
        result["residual"] = relative_residual(physiology.model, physiology.concentrations)
        with torch.no_grad():
            result["reference_lambda_max"] = float(oracle.lambda_max(oracle.km_vector())[0])
    except KinlatentError as error:
        logger.info("no reference parameter set: %s", error)
    return result


def run_pipeline(cfg: DictConfig | Mapping[str, Any]) -> PipelineResult:
    """Run every step as configured; see the module docstring."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    model = dict(section(container, "model"))
    sampler = dict(section(container, "sampler"))
    generator = dict(section(container, "generator"))
    search = dict(section(container, "search"))
    target = dict(section(container, "target"))
    explore = dict(section(container, "explore"))
    final = dict(section(container, "final"))
    ray_cfg = dict(section(container, "ray"))
    seed = non_negative_int(container, "seed", "")
    n_final = positive_int(final, "n", "final")
    directory = Path(str(section(container, "output").get("dir")))
    if directory.exists() and not directory.is_dir():
        raise ConfigError("output directory is an existing file", key="output.dir", source=directory)
    from kinlatent.latent.runner import check_search

    check_search(search)
    for key in ("n_models", "workers", "prior_samples"):
        positive_int(explore, key, "explore")
    if generator.get("kind") not in ("gan", "nes"):
        raise ConfigError(f"unknown generator kind {generator.get('kind')!r}; valid: gan, nes", key="generator.kind")
    tracking = dict(container.get("tracking") or {})
    experiment = tracking.get("experiment") or "kinlatent-pipeline"

    def child(name: str) -> dict[str, Any]:
        return {**tracking, "experiment": experiment, "nested": True, "run_name": name}

    directory.mkdir(parents=True, exist_ok=True)
    log = StepLog(directory)
    timings: dict[str, float] = {}
    results: dict[str, dict[str, Any]] = {}
    parent = make_tracker(tracking, run_name=tracking.get("run_name") or f"pipeline-{model.get('name')}",
                          experiment=experiment)

    def step(name: str, settings: Any, run: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        fingerprint = _fingerprint(settings)
        started = time.perf_counter()
        previous = log.done(name, fingerprint)
        if previous is not None:
            logger.info("step %s: reused (finished earlier with the same settings)", name)
            results[name] = {**previous, "reused": True}
        else:
            logger.info("step %s: running", name)
            results[name] = run()
            results[name]["seconds"] = time.perf_counter() - started
            log.record(name, fingerprint, results[name])
        timings[name] = float(results[name].get("seconds", 0.0))
        return results[name]

    with parent:
        parent.log_params(flatten_config(container))
        step("steady_state", model, lambda: _steady_state_step(model))

        samples_dir = directory / "samples"

        def sample() -> dict[str, Any]:
            from kinlatent.pipelines.sample import run_sample

            result = run_sample({"model": model, "sampler": sampler, "ray": ray_cfg, "tracking": child("1-sample"),
                                 "output": {"dir": str(samples_dir)}, "progress": container.get("progress", True),
                                 "fault": {"crash_once_shards": []}})
            return {"n_rows": result.n_rows, "frac_valid": result.frac_valid, "models_per_s": result.models_per_s,
                    "threshold": sampler.get("threshold"), "dir": str(samples_dir), "run_id": result.run_id}

        step("sample", [model, sampler], sample)

        generator_dir = directory / "generator"

        def train() -> dict[str, Any]:
            from kinlatent.pipelines.train import run_train

            result = run_train({"model": model, "generator": generator, "data": str(samples_dir), "ray": ray_cfg,
                                "tracking": child("2-train"),
                                "output": {"dir": str(generator_dir), "replace": True}})  # steps.json decides
            return {"kind": result.kind, "frac_valid": result.frac_valid, "threshold": generator.get("threshold"),
                    "training_frac_valid": result.training_incidence, "model_uri": result.model_uri,
                    "dir": str(generator_dir), "weights": generator_hash(generator_dir), "run_id": result.run_id}

        trained = step("train", [model, sampler, generator], train)
        if not (generator_dir / "state_dict.pt").is_file() or generator_hash(generator_dir) != trained["weights"]:
            raise ConfigError("the generator in the output directory changed since it was trained here; delete "
                              f"{STEPS_FILE} to rerun the pipeline", key="output.dir", source=generator_dir)
        weights = trained["weights"]
        explore_dir = directory / f"explore-{weights}"

        def explore_step() -> dict[str, Any]:
            from kinlatent.pipelines.explore import run_explore

            result = run_explore({"model": model, "source": str(generator_dir), "seed": seed, "use_ray": True,
                                  "search": search, "target": target, "ray": ray_cfg, "tracking": child("3-explore"),
                                  "output": {"dir": str(explore_dir)}, **explore})
            return {**{k: v for k, v in result.summary.items() if isinstance(v, (int, float, str))},
                    "dir": str(explore_dir), "run_id": result.run_id}

        step("explore", [weights, search, target, explore, seed], explore_step)
        ensemble_dir = directory / f"ensemble-{weights}"

        def generate() -> dict[str, Any]:
            from kinlatent.pipelines.generate import run_generate
            from kinlatent.sampling.dataset import iter_batches

            result = run_generate({"model": model, "source": str(generator_dir), "n": n_final, "seed": seed,
                                   "shard_size": max(1000, min(n_final, 100_000)), "threshold": None,
                                   "tracking": child("4-generate"), "output": {"dir": str(ensemble_dir)}})
            lam = np.concatenate([f["lambda_max"].to_numpy() for f in iter_batches(ensemble_dir, ["lambda_max"])])
            finite = lam[np.isfinite(lam)]
            return {"n_rows": result.n_rows, "frac_valid": result.frac_valid,
                    "lambda_max_median": float(np.median(finite)) if finite.size else float("nan"),
                    "lambda_max_q05": float(np.quantile(finite, 0.05)) if finite.size else float("nan"),
                    "lambda_max_q95": float(np.quantile(finite, 0.95)) if finite.size else float("nan"),
                    "dir": str(ensemble_dir), "run_id": result.run_id}

        step("generate", [weights, n_final, seed], generate)
        summary = {"model": results["steady_state"]["model"], "steps": results, "seconds": timings,
                   "total_seconds": float(sum(timings.values())), "tracking_uri": absolute_uri(tracking.get("uri"))
                   if tracking.get("enabled") else None, "experiment": experiment}
        report = format_report(summary)
        write_atomic_bytes(directory / "summary.json", json.dumps(summary, indent=2, default=str).encode())
        write_atomic_bytes(directory / "summary.md", report.encode())
        parent.log_metrics(_metrics(results, timings))
        parent.log_artifact(directory / "summary.json")
        parent.log_artifact(directory / "summary.md")
    logger.info("pipeline finished in %.0f s; summary in %s", summary["total_seconds"], directory / "summary.md")
    return PipelineResult(directory, summary, parent.run_id, report)


def _metrics(results: Mapping[str, Mapping[str, Any]], timings: Mapping[str, float]) -> dict[str, float]:
    metrics = {f"time/{name}_s": seconds for name, seconds in timings.items()}
    picks = {"sample/frac_valid": ("sample", "frac_valid"), "train/frac_valid": ("train", "frac_valid"),
             "explore/hit_rate": ("explore", "hit_rate"), "explore/n_found": ("explore", "n_found"),
             "generate/frac_valid": ("generate", "frac_valid"),
             "generate/lambda_max_median": ("generate", "lambda_max_median")}
    for key, (step, field) in picks.items():
        value = results.get(step, {}).get(field)
        if isinstance(value, (int, float)) and np.isfinite(value):
            metrics[key] = float(value)
    return metrics


def format_report(summary: Mapping[str, Any]) -> str:
    """The summary table printed at the end (Markdown), with where the outputs are and how to look at them."""
    steps, seconds = summary["steps"], summary["seconds"]
    ss, sample, train = steps["steady_state"], steps["sample"], steps["train"]
    explore, generate = steps["explore"], steps["generate"]
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)  # noqa: E731
    rows = [
        ("steady state", f"λmax of the reference parameters {fmt(ss.get('reference_lambda_max', 'n/a'))} 1/h; "
                         f"{ss['n_reactions']} reactions, {ss['n_km']} Km", seconds["steady_state"], "—"),
        ("ORACLE sampling", f"{sample['n_rows']:,} sets, {sample['frac_valid']:.1%} with λmax < "
                            f"{fmt(sample['threshold'])} 1/h", seconds["sample"], sample["dir"]),
        (f"generator ({train['kind']})", f"{train['frac_valid']:.1%} of generated sets valid (λmax < "
                                         f"{fmt(train['threshold'])} 1/h)", seconds["train"], train["dir"]),
        ("latent exploration", f"{explore['n_found']} models for {explore['target']} ({explore['method']}), hit rate "
                               f"{explore['hit_rate']:.1%}, {explore['evaluations']:,} evaluations; prior hit rate "
                               f"{explore['prior_hit_rate']:.1%}", seconds["explore"], explore["dir"]),
        ("final ensemble", f"{generate['n_rows']:,} generated sets, {generate['frac_valid']:.1%} valid; λmax median "
                           f"{fmt(generate['lambda_max_median'])} (5–95 %: {fmt(generate['lambda_max_q05'])} … "
                           f"{fmt(generate['lambda_max_q95'])}) 1/h", seconds["generate"], generate["dir"]),
    ]
    lines = [f"kinlatent pipeline on {summary['model']}", "",
             "| step | result | seconds | output |", "|---|---|---|---|"]
    reused = [steps[k].get("reused", False) for k in ("steady_state", "sample", "train", "explore", "generate")]
    lines += [f"| {name} | {text} | {value:.1f}{' (reused)' if again else ''} | {where} |"
              for (name, text, value, where), again in zip(rows, reused)]
    lines.append(f"\ntotal: {summary['total_seconds']:.0f} s")
    uri = summary.get("tracking_uri")
    if uri and uri.startswith(("http://", "https://")):
        lines.append(f"look at the runs (experiment {summary['experiment']!r}): open {uri} in a browser")
    elif uri:
        lines.append(f"look at the runs (experiment {summary['experiment']!r}): mlflow ui --backend-store-uri {uri}")
    return "\n".join(lines) + "\n"
