"""Generators in MLflow: logged with the pytorch flavour (card beside the weights) and registered."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from kinlatent.generators.card import CARD_FILE, GeneratorCard, build_generator, load_generator
from kinlatent.generators.mlp import MLPGenerator


def log_generator(generator: MLPGenerator, card: GeneratorCard, registered_name: str | None) -> str:
    """Log the generator as an MLflow pytorch model named ``generator`` with ``card.json`` inside it; register
    it under ``registered_name`` when given. Returns the model URI."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        card_path = Path(tmp) / CARD_FILE
        card_path.write_text(json.dumps(card.to_dict(), indent=2))
        info = mlflow.pytorch.log_model(generator.cpu().eval(), name="generator", extra_files=[str(card_path)],
                                        registered_model_name=registered_name or None,
                                        serialization_format="pickle")
    return info.model_uri


def load_generator_from_uri(uri_or_path: str) -> tuple[MLPGenerator, GeneratorCard]:
    """A generator from a directory saved by kinlatent or from an MLflow model URI (runs:/…, models:/…)."""
    path = Path(uri_or_path)
    if path.is_dir() and (path / CARD_FILE).is_file():
        return load_generator(path)
    import mlflow

    from kinlatent.generators.card import GeneratorCardError

    if ":/" not in uri_or_path:
        raise GeneratorCardError("not a kinlatent generator directory (no card.json) nor an MLflow model URI "
                                 "(runs:/… or models:/…)", source=uri_or_path)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri_or_path))
    except Exception as error:  # noqa: BLE001 - MLflow raises many types for a missing model or run
        raise GeneratorCardError(f"cannot fetch the MLflow model: {str(error).splitlines()[0][:300]} (tracking "
                                 f"store {mlflow.get_tracking_uri()})", source=uri_or_path) from error
    card_files = list(local.rglob(CARD_FILE))

    if not card_files:
        raise GeneratorCardError("the MLflow model has no card.json: not a kinlatent generator", source=uri_or_path)
    card = GeneratorCard.from_dict(json.loads(card_files[0].read_text()), source=uri_or_path)
    module = mlflow.pytorch.load_model(uri_or_path, map_location="cpu")
    generator = build_generator(card)
    generator.load_state_dict(module.state_dict())
    return generator.eval(), card
