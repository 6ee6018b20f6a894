"""Connecting to Ray: a local instance, or an existing cluster, checked before any work starts."""
from __future__ import annotations

import logging
import socket
from typing import Any, Mapping

from kinlatent.exceptions import ConfigError

logger = logging.getLogger(__name__)


def _check_reachable(address: str) -> None:
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if not host or not port.isdigit():
        raise ConfigError(f"Ray address must be null, 'auto' or host:port (or ray://host:port), got {address!r}",
                          key="ray.address")
    try:
        with socket.create_connection((host, int(port)), timeout=5.0):
            pass
    except OSError as error:
        raise ConfigError(f"Ray cluster at {address!r} is unreachable: {error}", key="ray.address") from error


def init_ray(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Start or join Ray according to ``settings`` (the ``ray`` config group); returns the cluster resources.

    ``address`` null → a local Ray with ``num_cpus`` CPUs (all when null); ``auto`` or an address → join an
    existing cluster (the address is checked first so a typo fails fast). An already-initialised Ray is reused.
    """
    import ray

    address = settings.get("address")
    if ray.is_initialized():
        return ray.cluster_resources()
    runtime_env = dict(settings.get("runtime_env") or {}) or None
    if address in (None, "", "null", "local"):
        num_cpus = settings.get("num_cpus")
        if num_cpus is not None and (not isinstance(num_cpus, int) or num_cpus <= 0):
            raise ConfigError(f"ray.num_cpus must be a positive integer or null, got {num_cpus!r}", key="ray.num_cpus")
        ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True, runtime_env=runtime_env,
                 configure_logging=False)
    else:
        if address != "auto":
            _check_reachable(str(address))
        try:
            ray.init(address=address, runtime_env=runtime_env, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise ConfigError(f"cannot join Ray cluster at {address!r}: {error}", key="ray.address") from error
    resources = ray.cluster_resources()
    logger.info("Ray resources: %s", resources)
    return resources

