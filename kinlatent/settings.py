"""Where kinlatent finds the published model files (one setting: ``KINLATENT_MODELS_DIR``)."""
from __future__ import annotations

import os
from pathlib import Path

MODELS_DIR_ENV = "KINLATENT_MODELS_DIR"
_REPO_ROOT = Path(__file__).resolve().parent.parent


def models_dir() -> Path:
    """Directory holding the SKiMpy model files.

    ``$KINLATENT_MODELS_DIR`` when set, else ``../shared/models`` next to the repository (the layout of a
    development checkout and of CI), else ``../shared/models`` relative to the working directory.
    """
    env = os.environ.get(MODELS_DIR_ENV)
    if env:
        return Path(env).expanduser().resolve()
    beside_repo = _REPO_ROOT.parent / "shared" / "models"
    if beside_repo.is_dir():
        return beside_repo
    return (Path.cwd().parent / "shared" / "models").resolve()


def model_file(name: str) -> Path:
    """Path of a published model by short name (``varma_strain_1``) or file name."""
    directory = models_dir()
    candidates = [directory / name] + [directory / f"{name}{ext}" for ext in (".yml", ".yaml")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return candidates[1]
