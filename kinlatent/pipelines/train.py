"""The training job: a REKINDLE conditional GAN on a sampled training set, or RENAISSANCE NES without data.

``run_train(cfg)`` is behind ``jobs/train.py`` and ``kinlatent train``: it checks the config and the data,
trains, evaluates every k epochs/generations with the kinetic core, saves the generator (card + weights),
logs metrics, plots and the generator (MLflow pytorch model, registered under ``generator.registered_name``).
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import ConfigError
from kinlatent.generators.card import GeneratorCard, save_generator
from kinlatent.generators.evaluation import incidence, marginal_wasserstein, nearest_neighbour_distances
from kinlatent.generators.sampling import generate_ln_km
from kinlatent.physiology import Physiology, load_physiology
from kinlatent.pipelines.config_values import finite_float, non_negative_int, positive_int, section
from kinlatent.sampling.dataset import DatasetError, km_columns, read_dataset, read_manifest
from kinlatent.tracking import flatten_config, make_tracker

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    directory: Path
    kind: str
    frac_valid: float
    training_incidence: float | None
    history: list[dict[str, float]]
    model_uri: str | None
    run_id: str | None

    @property
    def report(self) -> str:
        """What ``kinlatent train`` prints when it is done."""
        registered = f"; MLflow model {self.model_uri}" if self.model_uri else ""
        return (f"{self.kind} generator saved to {self.directory}: {self.frac_valid:.1%} of generated sets valid"
                f"{registered}\n")


def _training_fingerprint(container: Mapping[str, Any]) -> str:
    """SHA-256 of what determines the trained generator: generator settings, model and training data."""
    import hashlib
    import json

    payload = {key: container.get(key) for key in ("generator", "model", "data")}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _check_output(output: Path, container: Mapping[str, Any]) -> None:
    """Never overwrite a generator trained with other settings (unless ``output.replace``)."""
    import json

    card = output / "card.json"
    if not card.is_file() or bool(section(container, "output").get("replace", False)):
        return
    try:
        previous = json.loads(card.read_text()).get("training", {}).get("config_sha256")
    except (OSError, ValueError, AttributeError):
        previous = None
    if previous != _training_fingerprint(container):
        raise ConfigError(f"{output} already holds a generator trained with other settings: choose another "
                          "output.dir (or delete that directory) so that it is not overwritten", key="output.dir")


def _load_training_set(path: Path, physiology: Physiology, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    manifest = read_manifest(path)
    columns = km_columns(path)
    expected = list(physiology.model.km_parameter_names)
    if columns != expected:
        missing = sorted(set(expected) - set(columns))[:5]
        extra = sorted(set(columns) - set(expected))[:5]
        raise DatasetError(f"training set columns do not match the model's Km parameters (missing {missing}, "
                           f"unexpected {extra})", source=path, key="km_columns")
    if manifest.get("identity", {}).get("model_sha256") != physiology.model.fingerprint():
        raise DatasetError("training set was sampled for another model file", source=path, key="model_sha256")
    frame = read_dataset(path, columns=columns + ["lambda_max"])
    if frame.empty:
        raise DatasetError("training set is empty", source=path)
    lam = frame["lambda_max"].to_numpy()
    labels = (np.isfinite(lam) & (lam < threshold)).astype(np.int64)
    if labels.sum() == 0:
        raise DatasetError(f"no set in the training set has lambda_max < {threshold}: nothing valid to learn",
                           source=path, key="lambda_max")
    return frame[columns].to_numpy(), labels


def _evaluate(generator, physiology: Physiology, oracle, n: int, seed: int, threshold: float, condition: int | None,
              reference: np.ndarray | None, bounds: tuple[np.ndarray, np.ndarray]) -> dict[str, float]:
    ln_km = torch.cat(list(generate_ln_km(generator, n, seed=seed, condition=condition)))
    with torch.no_grad():
        lam = oracle.evaluate(ln_km).lambda_max.numpy()
    metrics = {"eval/frac_valid": incidence(lam, threshold), "eval/lambda_max_median": float(np.nanmedian(lam))}
    if reference is not None:
        distances = marginal_wasserstein(ln_km.numpy(), reference, *bounds)
        metrics["eval/wasserstein_mean"] = float(distances.mean())
        metrics["eval/wasserstein_max"] = float(distances.max())
    return metrics


def _non_negative(config: Mapping[str, Any], key: str) -> float:
    """An optional number >= 0 of the generator section (absent: 0)."""
    if config.get(key) is None:
        return 0.0
    value = finite_float(config, key, "generator")
    if value < 0:
        raise ConfigError(f"must be >= 0, got {value}", key=f"generator.{key}")
    return value


def run_train(cfg: DictConfig | Mapping[str, Any],
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> TrainResult:
    """Train a generator as configured; see the module docstring. ``on_step(step, metrics)``, when given, is
    called after every epoch/generation with that step's metrics (a Ray Tune trial reports them)."""
    container = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    generator_cfg = section(container, "generator")
    kind = generator_cfg.get("kind")
    if kind not in ("gan", "nes"):
        raise ConfigError(f"unknown generator kind {kind!r}; valid: gan, nes", key="generator.kind")
    threshold = finite_float(generator_cfg, "threshold", "generator")
    eval_every = non_negative_int(generator_cfg, "eval_every", "generator")
    eval_sets = positive_int(generator_cfg, "eval_sets", "generator")
    seed = non_negative_int(generator_cfg, "seed", "generator")
    output = Path(str(section(container, "output").get("dir")))
    _check_output(output, container)
    data = container.get("data")
    if kind == "gan" and not data:
        raise ConfigError("the GAN needs a training set: data=PATH (a directory written by kinlatent sample)",
                          key="data")
    if kind == "gan" and not Path(str(data)).is_dir():
        raise ConfigError(f"training set directory not found: {data}", key="data")
    model = section(container, "model")
    physiology = load_physiology(model["path"], model.get("state"), model.get("state_row"),
                                 find_steady=bool(model.get("steady_state", True)))
    torch.manual_seed(seed)
    names = physiology.model.km_parameter_names
    tracking = container.get("tracking") or {}
    tracker = make_tracker(tracking, run_name=tracking.get("run_name") or f"train-{kind}-{physiology.model.name}",
                           experiment=tracking.get("experiment") or "kinlatent-train")
    oracle = physiology.oracle()
    history: list[dict[str, float]] = []
    training_incidence = None
    reference = None
    started = time.perf_counter()
    with tracker:
        tracker.log_params(flatten_config(container))
        if kind == "gan":
            from kinlatent.generators.gan import ConditionalGANTrainer, GANConfig, data_bounds, rekindle_generator

            ln_km, labels = _load_training_set(Path(str(data)), physiology, threshold)
            training_incidence = float(labels.mean())
            tracker.log_metrics({"data/n_rows": len(labels), "data/frac_valid": training_incidence})
            lower, upper = data_bounds(ln_km)
            generator = rekindle_generator(len(names), lower, upper, latent_dim=int(generator_cfg["latent_dim"]),
                                           widths=tuple(generator_cfg["widths"]),
                                           dropout=float(generator_cfg["dropout"]))
            gan = GANConfig(epochs=positive_int(generator_cfg, "epochs", "generator"),
                            batch_size=positive_int(generator_cfg, "batch_size", "generator"),
                            lr=finite_float(generator_cfg, "lr", "generator"),
                            beta1=finite_float(generator_cfg, "beta1", "generator"),
                            discriminator_widths=tuple(generator_cfg["discriminator_widths"]),
                            discriminator_dropout=float(generator_cfg["discriminator_dropout"]),
                            discriminator_lr=finite_float(generator_cfg, "discriminator_lr", "generator")
                            if generator_cfg.get("discriminator_lr") is not None else None,
                            auxiliary_weight=_non_negative(generator_cfg, "auxiliary_weight"),
                            ema_decay=_non_negative(generator_cfg, "ema_decay"), seed=seed)
            if gan.ema_decay >= 1.0:
                raise ConfigError(f"must be in [0, 1), got {gan.ema_decay}", key="generator.ema_decay")
            trainer = ConditionalGANTrainer(generator, ln_km, labels, gan)
            reference = ln_km[labels == 1][:20_000]
            condition: int | None = 1
            steps, step_fn = gan.epochs, trainer.train_epoch
        else:
            from kinlatent.distributed.runtime import init_ray
            from kinlatent.generators.bounds import saturation_bounds
            from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator
            from kinlatent.generators.nes import NESConfig, NESTrainer

            lower, upper = saturation_bounds(physiology, names, float(generator_cfg.get("sigma_min", 1e-3)))
            spec = GeneratorSpec(n_outputs=len(names), latent_dim=int(generator_cfg["latent_dim"]),
                                 widths=tuple(generator_cfg["widths"]), activation=str(generator_cfg["activation"]),
                                 normalisation="none", dropout=0.0)
            generator = MLPGenerator(spec, lower, upper)
            nes = NESConfig(generations=positive_int(generator_cfg, "generations", "generator"),
                            population=positive_int(generator_cfg, "population", "generator"),
                            sigma=finite_float(generator_cfg, "sigma", "generator"),
                            lr=finite_float(generator_cfg, "lr", "generator"),
                            lr_decay=finite_float(generator_cfg, "lr_decay", "generator"),
                            sets_per_member=positive_int(generator_cfg, "sets_per_member", "generator"),
                            reward_mode=str(generator_cfg.get("reward_mode", "incidence")), threshold=threshold,
                            eval_every=0, workers=positive_int(generator_cfg, "workers", "generator"), seed=seed)
            use_ray = bool(generator_cfg.get("use_ray", True))
            if use_ray:
                init_ray(section(container, "ray"))
            try:
                trainer = NESTrainer(generator, physiology, nes, use_ray=use_ray)
            except ValueError as error:
                raise ConfigError(str(error), key="generator.population") from error
            condition = None
            steps, step_fn = nes.generations, trainer.step

        bounds = (np.asarray(generator.lower, dtype=float), np.asarray(generator.upper, dtype=float))
        for step in range(1, steps + 1):
            metrics = step_fn()
            if eval_every and (step % eval_every == 0 or step == steps):
                if kind == "nes":
                    torch.nn.utils.vector_to_parameters(trainer.theta.detach(), generator.parameters())
                evaluated = trainer.output_generator if kind == "gan" else generator
                metrics.update(_evaluate(evaluated, physiology, oracle, eval_sets, seed + 1, threshold, condition,
                                         reference, bounds))
            tracker.log_metrics(metrics, step=step)
            history.append({"step": step, **metrics})
            if on_step is not None:
                on_step(step, dict(metrics))
            logger.info("%s step %d/%d %s", kind, step, steps,
                        {k: round(v, 4) for k, v in metrics.items() if k.startswith(("eval/", "train/"))})
        if kind == "nes":
            torch.nn.utils.vector_to_parameters(trainer.theta.detach(), generator.parameters())
        else:
            generator = trainer.output_generator  # the weight average when generator.ema_decay > 0
        final = _evaluate(generator, physiology, oracle, eval_sets, seed + 2, threshold, condition, reference, bounds)
        if reference is not None:
            generated = torch.cat(list(generate_ln_km(generator, 1000, seed=seed + 3, condition=condition))).numpy()
            nn_gen = nearest_neighbour_distances(generated, reference, *bounds)
            half = min(1000, len(reference) // 2)  # reference: distances between disjoint training rows
            nn_ref = nearest_neighbour_distances(reference[:half], reference[half:], *bounds)
            final.update({"eval/nn_distance_min": float(nn_gen.min()),
                          "eval/nn_distance_median": float(np.median(nn_gen)),
                          "data/nn_distance_median": float(np.median(nn_ref))})
        final["train/wall_seconds"] = time.perf_counter() - started
        tracker.log_metrics({f"final/{k.split('/', 1)[1]}" if k.startswith("eval/") else k: v
                             for k, v in final.items()})
        card = GeneratorCard(kind=kind, parameter_names=names, spec=generator.spec,
                             lower=tuple(map(float, bounds[0])), upper=tuple(map(float, bounds[1])),
                             model_name=physiology.model.name, model_sha256=physiology.model.fingerprint(),
                             physiology_sha256=physiology.fingerprint, threshold=threshold,
                             valid_condition=condition, training={"steps": steps, "seed": seed, **final,
                                                                  "config_sha256": _training_fingerprint(container)})
        save_generator(generator, card, output)
        logger.info("generator saved to %s", output)
        model_uri = None
        if tracker.run_id:
            from kinlatent.tracking.generator_model import log_generator
            from kinlatent.tracking.plots import learning_curve

            from kinlatent.tracking.plots import ln_km_distributions, plt

            figure = learning_curve(history, kind)
            tracker.log_figure(figure, "learning_curve.png")
            plt.close(figure)
            sample = torch.cat(list(generate_ln_km(generator, 2000, seed=seed + 4, condition=condition))).numpy()
            figure = ln_km_distributions(sample, reference, list(names))
            tracker.log_figure(figure, "ln_km_distributions.png")
            plt.close(figure)
            model_uri = log_generator(generator, card, generator_cfg.get("registered_name"))
    return TrainResult(output, kind, final["eval/frac_valid"], training_incidence, history, model_uri,
                       tracker.run_id)
