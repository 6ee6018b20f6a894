"""Hydra glue shared by jobs/*.py and the ``kinlatent`` CLI: config directory, resolvers, entry points."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from kinlatent.exceptions import KinlatentError
from kinlatent.settings import models_dir

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
logger = logging.getLogger(__name__)

if not OmegaConf.has_resolver("kl.models_dir"):
    OmegaConf.register_new_resolver("kl.models_dir", lambda: str(models_dir()))


def builtin_model_file(name: str, kind: str = "model", seed: int = 0) -> str:
    """``${kl.builtin:NAME,model|state,SEED}``: path of a built-in model's YAML or state CSV, (re)built into the
    kinlatent cache directory (see :mod:`kinlatent.default_model.files`)."""
    from kinlatent.default_model import builtin_model_files
    from kinlatent.exceptions import ConfigError

    if kind not in ("model", "state"):
        raise ConfigError(f"expected 'model' or 'state', got {kind!r}", key="kl.builtin")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be an integer >= 0, got {seed!r}", key="model.seed")
    model_path, state_path = builtin_model_files(str(name), seed)
    return str(model_path if kind == "model" else state_path)


if not OmegaConf.has_resolver("kl.builtin"):
    OmegaConf.register_new_resolver("kl.builtin", builtin_model_file, use_cache=True)


def hydra_entry(config_name: str, runner: Callable[[DictConfig], Any]) -> Callable[[], None]:
    """A ``@hydra.main`` function for ``conf/<config_name>.yaml`` calling ``runner(cfg)``; kinlatent errors are
    printed as one clear line and exit with status 2 (no traceback)."""
    import hydra

    if not (CONF_DIR / f"{config_name}.yaml").is_file():
        raise FileNotFoundError(f"config {config_name}.yaml not found in {CONF_DIR}")

    @hydra.main(version_base=None, config_path=str(CONF_DIR), config_name=config_name)
    def _main(cfg: DictConfig) -> None:
        try:
            result = runner(cfg)
        except KinlatentError as error:
            print(f"kinlatent: error: {error}", file=sys.stderr)
            sys.exit(2)
        report = getattr(result, "report", None)
        if report:  # a job's closing summary for the user (the library itself only logs)
            sys.stdout.write(report)

    return _main


def run_hydra_command(config_name: str, runner: Callable[[DictConfig], Any], argv: list[str]) -> int:
    """Run a Hydra job with command-line overrides ``argv`` (``-m`` multirun included)."""
    saved = sys.argv
    sys.argv = [f"kinlatent {config_name}"] + list(argv)
    try:
        hydra_entry(config_name, runner)()
    except SystemExit as exit_:
        return int(exit_.code or 0)
    finally:
        sys.argv = saved
    return 0


def compose_config(config_name: str, overrides: list[str] | None = None) -> DictConfig:
    """Compose ``conf/<config_name>.yaml`` with overrides, as the jobs see it (for scripts and tests)."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base=None):
        return compose(config_name=config_name, overrides=list(overrides or []))
