"""A transfer study file (conf/study/*.yaml): source, conditions, methods with budgets, seeds, settings.

Everything is checked here, before any work starts: conditions resolvable and uniquely named, methods known,
budgets positive integers without repeats (``direct`` takes none), seeds distinct integers ≥ 0, settings keys
known per method family.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError
from kinlatent.pipelines.config_values import file_safe_name, only_known_keys
from kinlatent.transfer.conditions import ConditionSpec, parse_condition
from kinlatent.transfer.methods import BUDGETLESS, METHODS, SETTINGS_FAMILY, TransferTask

SETTINGS_KEYS = {
    "nes": {"population", "sigma", "lr", "lr_decay", "sets_per_member", "reward_mode", "sigma_min"},
    "gan": {"steps", "batch_size", "lr", "beta1", "discriminator_widths", "discriminator_dropout",
            "discriminator_lr", "scratch_widths", "dropout", "sigma_min"},
    "latent": {"search", "hits", "shrinkage", "prior_scale", "population", "sigma"},
}
POSITIVE_INTEGERS = {"population", "sets_per_member", "steps", "batch_size", "hits"}
TEXT_SETTINGS = {"reward_mode": ("incidence", "fastest"), "search": ("rejection", "cmaes")}
LIST_SETTINGS = {"discriminator_widths", "scratch_widths"}
STUDY_KEYS = {"name", "description", "source", "source_train", "conditions", "methods", "seeds", "threshold",
              "eval_sets", "settings", "reuse"}
REUSE_MODES = ("saturation", "km")


@dataclass(frozen=True)
class StudyRow:
    """One (condition, method, budget, seed) of a study; ``key`` names its files and its MLflow child run."""

    condition: str
    task: TransferTask

    @property
    def key(self) -> str:
        return f"{self.condition}__{self.task.method}__b{self.task.budget}__s{self.task.seed}"


@dataclass(frozen=True)
class StudySpec:
    name: str
    source: str | None
    source_train: tuple[str, ...]
    conditions: tuple[ConditionSpec, ...]
    methods: Mapping[str, tuple[int, ...]]
    seeds: tuple[int, ...]
    threshold: float | None
    eval_sets: int
    settings: Mapping[str, Mapping[str, Any]]
    reuse: str = "saturation"

    def rows(self, default_threshold: float) -> list[StudyRow]:
        """Every row, conditions × methods × budgets × seeds, in the study's order. Threshold: the condition's,
        else the study's, else ``default_threshold`` (the source generator's)."""
        rows = []
        for condition in self.conditions:
            threshold = next(t for t in (condition.threshold, self.threshold, default_threshold) if t is not None)
            for method, budgets in self.methods.items():
                family = SETTINGS_FAMILY[method]
                settings = dict(self.settings.get(family, {})) if family else {}
                for budget in budgets or (0,):
                    for seed in self.seeds:
                        task = TransferTask(method, budget, seed, threshold, settings, self.reuse)
                        rows.append(StudyRow(condition.name, task))
        return rows


def row_fingerprint(row: StudyRow, condition: ConditionSpec, source_sha256: str, eval_sets: int) -> str:
    """What a finished row depends on: reused on rerun only when this is unchanged."""
    payload = {"condition": condition.to_dict(), "method": row.task.method, "budget": row.task.budget,
               "seed": row.task.seed, "threshold": row.task.threshold, "settings": dict(row.task.settings),
               "reuse": row.task.reuse,
               "source": source_sha256, "eval_sets": eval_sets}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


MAX_INTEGER = 2**31 - 1   # seeds and budgets feed numpy / torch generators and int64 columns


def _int_list(raw: Any, key: str, minimum: int) -> tuple[int, ...]:
    if raw is None:
        return ()
    if isinstance(raw, (str, bytes)) or not isinstance(raw, (list, tuple)):
        raise ConfigError(f"expected a list of integers, got {raw!r}", key=key)
    values = []
    for index, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= MAX_INTEGER:
            what = "a positive integer" if minimum > 0 else f"an integer >= {minimum}"
            raise ConfigError(f"must be {what} (at most {MAX_INTEGER}), got {value!r}", key=f"{key}[{index}]")
        if value in values:
            raise ConfigError(f"{value} is listed twice", key=f"{key}[{index}]")
        values.append(value)
    return tuple(values)


def parse_study(raw: Mapping[str, Any], conf_dir: Path | None = None) -> StudySpec:
    """Check a study section (see the module docstring); errors name the key under ``study.``."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"the study must be a mapping, got {raw!r}", key="study")
    only_known_keys(raw, STUDY_KEYS, "study", "study")
    name = file_safe_name(raw, "name", "study", "study")
    source = raw.get("source")
    if source is not None and (not isinstance(source, str) or (not Path(source).exists() and ":/" not in source)):
        raise ConfigError(f"source generator not found: {source!r} (a directory written by kinlatent train, an "
                          "MLflow model URI such as models:/NAME/1, or null to train one with study.source_train)",
                          key="study.source")
    source_train = raw.get("source_train") or []
    if not isinstance(source_train, (list, tuple)) or not all(isinstance(o, str) and "=" in o for o in source_train):
        raise ConfigError(f"expected a list of kinlatent train overrides (key=value), got {source_train!r}",
                          key="study.source_train")
    conditions_raw = raw.get("conditions")
    if isinstance(conditions_raw, (str, bytes)) or not isinstance(conditions_raw, (list, tuple)) or not conditions_raw:
        raise ConfigError("expected a non-empty list of conditions (names of conf/condition/*.yaml or mappings)",
                          key="study.conditions")
    conditions = [parse_condition(c, f"study.conditions[{i}]", conf_dir) for i, c in enumerate(conditions_raw)]
    names = [c.name for c in conditions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"duplicate condition name(s) {duplicates}", key="study.conditions")
    methods_raw = raw.get("methods")
    if not isinstance(methods_raw, Mapping) or not methods_raw:
        raise ConfigError(f"expected a mapping {{method: [budgets]}} with methods from {', '.join(METHODS)}",
                          key="study.methods")
    methods: dict[str, tuple[int, ...]] = {}
    for method, budgets in methods_raw.items():
        if method not in METHODS:
            raise ConfigError(f"unknown transfer method {method!r}; valid: {', '.join(METHODS)}",
                              key=f"study.methods.{method}")
        values = _int_list(budgets, f"study.methods.{method}", minimum=1)
        if method in BUDGETLESS and values:
            raise ConfigError(f"{method} takes no budget: give {method}: []", key=f"study.methods.{method}")
        if method not in BUDGETLESS and not values:
            raise ConfigError("give at least one budget (a positive integer)", key=f"study.methods.{method}")
        methods[str(method)] = values
    seeds = _int_list(raw.get("seeds", [0]), "study.seeds", minimum=0)
    if not seeds:
        raise ConfigError("give at least one seed", key="study.seeds")
    threshold = raw.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                  or not math.isfinite(threshold) or threshold >= 0):
        raise ConfigError(f"must be a finite number < 0 (1/h) or null, got {threshold!r}", key="study.threshold")
    eval_sets = raw.get("eval_sets", 2000)
    if isinstance(eval_sets, bool) or not isinstance(eval_sets, int) or eval_sets <= 0:
        raise ConfigError(f"must be a positive integer, got {eval_sets!r}", key="study.eval_sets")
    settings_raw = raw.get("settings") or {}
    if not isinstance(settings_raw, Mapping):
        raise ConfigError("expected a mapping {nes: …, gan: …, latent: …}", key="study.settings")
    settings: dict[str, dict[str, Any]] = {}
    for family, values in settings_raw.items():
        if family not in SETTINGS_KEYS:
            raise ConfigError(f"unknown settings family {family!r}; valid: {sorted(SETTINGS_KEYS)}",
                              key=f"study.settings.{family}")
        if values is not None and not isinstance(values, Mapping):
            raise ConfigError(f"expected a mapping of {family} settings, got {values!r}",
                              key=f"study.settings.{family}")
        values = dict(values or {})
        only_known_keys(values, SETTINGS_KEYS[family], f"study.settings.{family}", family)
        for key, value in values.items():
            _check_setting(key, value, f"study.settings.{family}.{key}")
        settings[family] = values
    population = settings.get("nes", {}).get("population", 20)
    if population < 2 or population % 2:
        raise ConfigError(f"NES population must be even and >= 2 (antithetic pairs), got {population}",
                          key="study.settings.nes.population")
    if settings.get("latent", {}).get("population", 64) < 4:
        raise ConfigError("CMA-ES needs a population of at least 4", key="study.settings.latent.population")
    reuse = raw.get("reuse", "saturation")
    if reuse not in REUSE_MODES:
        raise ConfigError(f"unknown reuse {reuse!r}; valid: {', '.join(REUSE_MODES)}", key="study.reuse")
    return StudySpec(name, source, tuple(source_train), tuple(conditions), methods, seeds,
                     None if threshold is None else float(threshold), eval_sets, settings, reuse)


def _check_setting(name: str, value: Any, key: str) -> None:
    """Types and ranges of one method setting (see :data:`SETTINGS_KEYS`)."""
    if name in TEXT_SETTINGS:
        if value not in TEXT_SETTINGS[name]:
            raise ConfigError(f"unknown value {value!r}; valid: {', '.join(TEXT_SETTINGS[name])}", key=key)
        return
    if name in LIST_SETTINGS:
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value or not all(
                isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value):
            raise ConfigError(f"expected a non-empty list of positive widths, got {value!r}", key=key)
        return
    number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if name in POSITIVE_INTEGERS:
        if not (number and isinstance(value, int) and value > 0):
            raise ConfigError(f"must be a positive integer, got {value!r}", key=key)
    elif name in ("shrinkage", "discriminator_dropout", "dropout", "sigma_min", "beta1"):
        if not (number and 0 <= value < (0.5 if name == "sigma_min" else 1)):
            raise ConfigError(f"must be a number in [0, {0.5 if name == 'sigma_min' else 1}), got {value!r}",
                              key=key)
    elif name == "lr_decay":
        if not (number and 0 < value <= 1):
            raise ConfigError(f"must be a number in (0, 1], got {value!r}", key=key)
    elif not (number and value > 0):
        raise ConfigError(f"must be a positive number, got {value!r}", key=key)
