"""Batched rate laws of the SKiMpy mechanisms and modifiers used by the models kinlatent reads."""
from kinlatent.ratelaws import convenience, hill, massaction, michaelis_menten  # noqa: F401  (registration)
from kinlatent.ratelaws.base import RATE_LAWS, RateInputs, RateLaw, UnitRates
from kinlatent.ratelaws.modifiers import MODIFIERS

SUPPORTED_MECHANISMS: tuple[str, ...] = tuple(sorted(RATE_LAWS))
SUPPORTED_MODIFIERS: tuple[str, ...] = tuple(sorted(MODIFIERS))

__all__ = [
    "RATE_LAWS", "MODIFIERS", "SUPPORTED_MECHANISMS", "SUPPORTED_MODIFIERS",
    "RateInputs", "RateLaw", "UnitRates",
]
