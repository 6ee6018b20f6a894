"""Search spaces written in config, checked before any trial starts, converted to Ray Tune domains.

A space maps Hydra override keys of the tuned job (``generator.lr``, ``target``, …; nested mappings are
joined with dots) to one distribution each, written as a one-key mapping::

    generator:
      lr: {loguniform: [1.0e-4, 1.0e-2]}     # low > 0, low < high
      sigma: {uniform: [0.005, 0.05]}          # low < high
      population: {randint: [4, 9]}            # integers in [low, high) (high excluded, as in Ray Tune)
      widths: {choice: [[16], [32, 32]]}       # one of the values (random or Optuna search)
    target: {grid: [lambda_fast, lambda_mid]}  # every value (combined with the other grid keys)

A trial's sampled values become Hydra overrides ``key=value`` of the job (:func:`override_value`).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError

DISTRIBUTIONS = ("choice", "grid", "loguniform", "randint", "uniform")
_PLAIN = re.compile(r"^[A-Za-z0-9_./:+-]+$")


@dataclass(frozen=True)
class Param:
    """One searched key: its Hydra override key, distribution and arguments (choices already override text
    where they are not plain scalars, so that every search algorithm sees hashable scalars)."""

    key: str
    distribution: str
    args: tuple[Any, ...]

    @property
    def values(self) -> tuple[Any, ...]:
        """Candidate values of choice/grid; the two ends of a range (used to check the keys exist)."""
        if self.distribution in ("choice", "grid"):
            return self.args
        low, high = self.args
        return (low, high - 1) if self.distribution == "randint" else (low, high)


def override_value(value: Any) -> str:
    """Hydra override text of a value: ``true``, ``null``, ``0.001``, ``[16,32]``, ``{a:1}``, quoted strings
    where Hydra's grammar needs quotes."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ConfigError(f"not a finite number: {value!r}", key="hparams_search.space")
        return repr(value)
    if isinstance(value, str):
        if _PLAIN.match(value):
            return value
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(override_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{key}:{override_value(item)}" for key, item in value.items()) + "}"
    raise ConfigError(f"cannot write {value!r} ({type(value).__name__}) as a Hydra override",
                      key="hparams_search.space")


def merge_overrides(*groups: list[str]) -> list[str]:
    """Concatenated override lists where a later ``key=…`` replaces an earlier one of the same key (Hydra would
    apply the last anyway; this keeps files and commands readable)."""
    merged: dict[str, str] = {}
    for overrides in groups:
        for override in overrides:
            key = override.split("=", 1)[0]
            merged.pop(key, None)
            merged[key] = override
    return list(merged.values())


def trial_overrides(config: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides of one trial's sampled config (strings are already override text)."""
    return [f"{key}={value if isinstance(value, str) else override_value(value)}" for key, value in config.items()]


def _number(value: Any, key: str, integer: bool = False) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and integer:
        ok = float(value).is_integer()
    if not ok:
        kind = "an integer" if integer else "a finite number"
        raise ConfigError(f"bounds must be {kind}, got {value!r}", key=key)
    return int(value) if integer else float(value)


def _choice_value(value: Any) -> Any:
    if isinstance(value, (bool, int, float)) and not (isinstance(value, float) and not math.isfinite(value)):
        return value
    return override_value(value)  # strings (quoted when needed), lists, mappings, null → override text


def _param(key: str, distribution: str, args: Any, where: str) -> Param:
    if distribution in ("choice", "grid"):
        if not isinstance(args, (list, tuple)) or not args:
            raise ConfigError(f"{distribution} needs a non-empty list of values, got {args!r}", key=where)
        values = tuple(_choice_value(value) for value in args)
        if len(set(map(repr, values))) != len(values):
            raise ConfigError(f"{distribution} lists a value twice: {list(args)!r}", key=where)
        return Param(key, distribution, values)
    if not isinstance(args, (list, tuple)) or len(args) != 2:
        raise ConfigError(f"{distribution} needs [low, high], got {args!r}", key=where)
    integer = distribution == "randint"
    low, high = (_number(value, where, integer) for value in args)
    if low >= high:
        raise ConfigError(f"low must be < high, got [{low}, {high}]", key=where)
    if distribution == "loguniform" and low <= 0:
        raise ConfigError(f"loguniform needs low > 0, got {low}", key=where)
    return Param(key, distribution, (low, high))


def parse_space(space: Any, prefix: str = "hparams_search.space") -> dict[str, Param]:
    """Check a space (see the module docstring) and return ``{override key: Param}``; errors name the key."""
    if not isinstance(space, Mapping) or not space:
        raise ConfigError(f"the search space must be a non-empty mapping of keys to distributions, got {space!r}",
                          key=prefix)
    params: dict[str, Param] = {}

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for name, value in node.items():
            keys = path + (str(name),)
            where = f"{prefix}.{'.'.join(keys)}"
            if not isinstance(value, Mapping):
                raise ConfigError(f"expected a distribution {{{'|'.join(DISTRIBUTIONS)}: …}}, got {value!r}",
                                  key=where)
            if not value:
                raise ConfigError("empty mapping: give a distribution", key=where)
            if len(value) == 1:
                (distribution, args), = value.items()
                if distribution in DISTRIBUTIONS:
                    params[".".join(keys)] = _param(".".join(keys), str(distribution), args,
                                                    f"{where}.{distribution}")
                    continue
                if isinstance(args, (list, tuple)):  # {logunifrom: [...]}: a misspelt distribution, not a sub-key
                    raise ConfigError(f"unknown distribution {distribution!r}; valid: {', '.join(DISTRIBUTIONS)} "
                                      "(fixed values go in overrides)", key=f"{where}.{distribution}")
            clash = sorted(set(map(str, value)) & set(DISTRIBUTIONS))
            if clash:
                raise ConfigError(f"a distribution is a mapping with one key, got {sorted(map(str, value))}",
                                  key=where)
            walk(value, keys)

    walk(space, ())
    return params


def to_tune(params: Mapping[str, Param]) -> dict[str, Any]:
    """Ray Tune ``param_space`` with one flat key per searched override key."""
    from ray import tune

    domains: dict[str, Any] = {}
    for key, param in params.items():
        if param.distribution == "grid":
            domains[key] = tune.grid_search(list(param.args))
        elif param.distribution == "choice":
            domains[key] = tune.choice(list(param.args))
        elif param.distribution == "uniform":
            domains[key] = tune.uniform(*param.args)
        elif param.distribution == "loguniform":
            domains[key] = tune.loguniform(*param.args)
        else:
            domains[key] = tune.randint(*param.args)
    return domains


def grid_size(params: Mapping[str, Param]) -> int:
    """Trials per sample: the product of the grid sizes (1 without grid keys)."""
    return math.prod(len(p.args) for p in params.values() if p.distribution == "grid")
