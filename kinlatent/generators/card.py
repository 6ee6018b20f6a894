"""Saving and loading generators: a directory with ``card.json`` (what it generates and for which
physiology) and ``state_dict.pt`` (the weights)."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from kinlatent.exceptions import KinlatentError
from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator

CARD_FILE = "card.json"
WEIGHTS_FILE = "state_dict.pt"
CARD_VERSION = 1


class GeneratorCardError(KinlatentError, ValueError):
    """A generator card is unreadable or does not fit the requested model/physiology."""


@dataclass(frozen=True)
class GeneratorCard:
    """Everything needed to rebuild a generator and check it is used with the physiology it was made for."""

    kind: str
    parameter_names: tuple[str, ...]
    spec: GeneratorSpec
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    model_name: str
    model_sha256: str
    physiology_sha256: str
    threshold: float
    valid_condition: int | None = None
    training: dict[str, Any] = field(default_factory=dict)
    version: int = CARD_VERSION

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["spec"] = self.spec.to_dict()
        data["parameter_names"] = list(self.parameter_names)
        data["lower"], data["upper"] = list(self.lower), list(self.upper)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str | None = None) -> "GeneratorCard":
        try:
            return cls(
                kind=str(data["kind"]), parameter_names=tuple(data["parameter_names"]),
                spec=GeneratorSpec.from_dict(data["spec"]), lower=tuple(data["lower"]), upper=tuple(data["upper"]),
                model_name=str(data["model_name"]), model_sha256=str(data["model_sha256"]),
                physiology_sha256=str(data["physiology_sha256"]), threshold=float(data["threshold"]),
                valid_condition=data.get("valid_condition"), training=dict(data.get("training") or {}),
                version=int(data.get("version", CARD_VERSION)),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise GeneratorCardError(f"malformed generator card: {error!r}", source=source) from error

    def check_model(self, model_sha256: str, parameter_names: tuple[str, ...], source: str | None = None) -> None:
        """Refuse a generator made for another model (different structure or ln Km vector)."""
        hint = (" — pass the model it was made for (model=NAME, e.g. model=ecoli_core, or model.path=FILE; its "
                "card.json names it)")
        if tuple(parameter_names) != self.parameter_names:
            raise GeneratorCardError(
                f"generator was made for model {self.model_name!r} with {len(self.parameter_names)} Km; this model "
                f"has {len(parameter_names)} different/ordered Km{hint}", source=source, key="parameter_names")
        if model_sha256 != self.model_sha256:
            raise GeneratorCardError(f"generator was made for another model file ({self.model_name!r}, "
                                     f"sha256 {self.model_sha256[:12]}…){hint}", source=source, key="model_sha256")


def weights_sha256(generator: MLPGenerator) -> str:
    """SHA-256 of a generator's weights and buffers: what identifies a trained generator, wherever it lives."""
    import hashlib

    digest = hashlib.sha256()
    for name, tensor in sorted(generator.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def build_generator(card: GeneratorCard) -> MLPGenerator:
    return MLPGenerator(card.spec, card.lower, card.upper)


def save_generator(generator: MLPGenerator, card: GeneratorCard, directory: str | Path) -> Path:
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(generator.state_dict(), directory / WEIGHTS_FILE)
    (directory / CARD_FILE).write_text(json.dumps(card.to_dict(), indent=2))
    return directory


def load_generator(directory: str | Path) -> tuple[MLPGenerator, GeneratorCard]:
    """Rebuild a saved generator (eval mode) and its card."""
    directory = Path(directory)
    card_path = directory / CARD_FILE
    if not card_path.is_file():
        raise GeneratorCardError("no card.json: not a kinlatent generator directory", source=directory)
    try:
        card = GeneratorCard.from_dict(json.loads(card_path.read_text()), source=str(card_path))
    except json.JSONDecodeError as error:
        raise GeneratorCardError(f"card is not valid JSON: {error}", source=card_path) from error
    generator = build_generator(card)
    try:
        generator.load_state_dict(torch.load(directory / WEIGHTS_FILE, map_location="cpu", weights_only=True))
    except FileNotFoundError as error:
        raise GeneratorCardError("no weights file beside the card", source=directory / WEIGHTS_FILE) from error
    except Exception as error:  # noqa: BLE001 - torch raises many types for a damaged or foreign file
        raise GeneratorCardError(f"weights are unreadable or do not fit the card: {type(error).__name__}: "
                                 f"{str(error)[:300]}", source=directory / WEIGHTS_FILE) from error
    return generator.eval(), card
