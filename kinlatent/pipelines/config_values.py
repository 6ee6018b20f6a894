"""Typed reading of config values with errors that name the key (validation before any work starts)."""
from __future__ import annotations

import math
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError


def section(config: Mapping[str, Any], key: str, prefix: str = "", optional: bool = False) -> Mapping[str, Any]:
    """A nested mapping; ``optional`` sections may be absent/null (then empty). Errors name ``prefix.key``."""
    value = config.get(key) if isinstance(config, Mapping) else None
    if value is None and optional:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"missing or not a mapping (got {value!r})", key=f"{prefix}.{key}" if prefix else key)
    return value


def positive_int(config: Mapping[str, Any], key: str, prefix: str) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"must be a positive integer, got {value!r}", key=f"{prefix}.{key}")
    return value


def non_negative_int(config: Mapping[str, Any], key: str, prefix: str) -> int:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"must be an integer >= 0, got {value!r}", key=f"{prefix}.{key}")
    return value


def finite_float(config: Mapping[str, Any], key: str, prefix: str) -> float:
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"must be a finite number, got {value!r}", key=f"{prefix}.{key}")
    return float(value)


def boolean(config: Mapping[str, Any], key: str, prefix: str, default: bool = False) -> bool:
    value = config.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"must be true or false, got {value!r}", key=f"{prefix}.{key}")
    return value


def only_known_keys(config: Mapping[str, Any], known: set[str], prefix: str, what: str) -> None:
    """Refuse keys outside ``known`` (a typo must not be silently ignored); the error names the first one."""
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(f"unknown {what} setting(s) {unknown}; valid: {sorted(known)}",
                          key=f"{prefix}.{unknown[0]}")


def file_safe_name(config: Mapping[str, Any], key: str, prefix: str, what: str) -> str:
    """A non-empty name without spaces or slashes (it names files and runs)."""
    name = config.get(key)
    if not isinstance(name, str) or not name or name.startswith(".") or any(c in name for c in "/\\ "):
        raise ConfigError(f"a {what} needs a name without spaces or slashes, not starting with '.', got {name!r}",
                          key=f"{prefix}.{key}")
    return name
