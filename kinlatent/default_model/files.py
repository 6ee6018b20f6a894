"""Files of the embedded default model: the SKiMpy YAML model and its state CSV, and where built-ins live.

The state CSV is the plain layout of :func:`kinlatent.model.state.read_state`: columns ``species``,
``concentration`` (µM) and ``reaction``, ``flux`` (µM/h); a row fills one pair and leaves the other empty.
Files are written atomically and only when their content changes, so concurrent jobs may share a directory.

Built-in models (``kinlatent inspect ecoli_core``, ``model=ecoli_core`` in Hydra configs) are written to
``$KINLATENT_CACHE_DIR`` (default ``$XDG_CACHE_HOME/kinlatent`` or ``~/.cache/kinlatent``) under
``builtin/<name>-seed<seed>/``; they are rebuilt (a few seconds) whenever they are asked for, so a cached file
never outlives a change of the builder or of cobra.
"""
from __future__ import annotations

import csv
import io
import logging
import os
import tempfile
from pathlib import Path

from kinlatent.default_model.builder import MODEL_NAME, DefaultModel, build_default_model
from kinlatent.exceptions import ConfigError, KinlatentError

logger = logging.getLogger(__name__)

CACHE_DIR_ENV = "KINLATENT_CACHE_DIR"
BUILTIN_MODELS: tuple[str, ...] = (MODEL_NAME,)


def cache_dir() -> Path:
    """Where built-in model files are written (see the module docstring)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "kinlatent"


def state_csv_text(built: DefaultModel) -> str:
    """The state CSV: every species (µM) then every reaction (µM/h), floats written exactly (repr)."""
    species, fluxes = built.state_rows()
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["species", "concentration", "reaction", "flux"])
    writer.writerows([name, repr(value), "", ""] for name, value in species)
    writer.writerows(["", "", name, repr(value)] for name, value in fluxes)
    return buffer.getvalue()


def _write_if_changed(path: Path, text: str) -> bool:
    """Atomically write ``text`` to ``path`` unless it already holds it; True when written."""
    try:
        if path.is_file() and path.read_text() == text:
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except OSError as error:
        raise KinlatentError(f"cannot write the file: {error}", source=path) from error
    return True


def write_default_model(directory: str | Path, seed: int = 0) -> tuple[Path, Path]:
    """Write ``ecoli_core.yml`` and ``ecoli_core_state.csv`` into ``directory``; return both paths."""
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise KinlatentError("not a directory", source=directory)
    built = build_default_model(seed)
    yaml_path = directory / f"{MODEL_NAME}.yml"
    state_path = directory / f"{MODEL_NAME}_state.csv"
    written = [path for path, text in ((yaml_path, built.yaml_text), (state_path, state_csv_text(built)))
               if _write_if_changed(path, text)]
    if written:
        logger.info("wrote %s", " and ".join(map(str, written)))
    return yaml_path, state_path


def builtin_model_files(name: str, seed: int = 0) -> tuple[Path, Path]:
    """(model YAML, state CSV) of a built-in model, (re)written in the cache directory."""
    if name not in BUILTIN_MODELS:
        raise ConfigError(f"unknown built-in model {name!r}; built-in models: {', '.join(sorted(BUILTIN_MODELS))}",
                          key="model.builtin")
    return write_default_model(cache_dir() / "builtin" / f"{name}-seed{seed}", seed)
