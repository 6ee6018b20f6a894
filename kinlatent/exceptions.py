"""The kinlatent exception hierarchy.

Every error raised on bad input is a :class:`KinlatentError` that names where the problem is
(``source``: a file or object, ``key``: the offending key/species/parameter) so that a user can fix it.
"""
from __future__ import annotations

from typing import Any


class KinlatentError(Exception):
    """Base class of all kinlatent errors."""

    def __init__(self, message: str, *, source: Any = None, key: Any = None) -> None:
        self.source = None if source is None else str(source)
        self.key = None if key is None else str(key)
        self.detail = message
        where = ": ".join(part for part in (self.source, self.key) if part)
        super().__init__(f"{where}: {message}" if where else message)


class ModelFormatError(KinlatentError, ValueError):
    """A model file is malformed: unreadable YAML, a missing section, a dangling reference."""


class UnsupportedMechanismError(ModelFormatError):
    """A model names a rate law or modifier class that kinlatent does not implement."""


class MissingParameterError(KinlatentError, ValueError):
    """A parameter needed for a computation is null/absent in the model."""


class NonFiniteValueError(KinlatentError, ValueError):
    """A number that must be finite (and usually positive) is NaN, infinite or out of range."""


class StateFileError(KinlatentError, ValueError):
    """A state (concentrations/fluxes) file is unreadable or incomplete."""


class SteadyStateError(KinlatentError, RuntimeError):
    """No steady state could be found (integration or Newton polishing failed)."""


class ConfigError(KinlatentError, ValueError):
    """A configuration value is invalid."""
