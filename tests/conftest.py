"""Shared fixtures: the published models are loaded once per session (they are immutable)."""
from __future__ import annotations

from pathlib import Path

import pytest

from kinlatent.settings import MODELS_DIR_ENV, models_dir

MODEL_FILES = ("varma_strain_1.yml", "varma_strain_2.yml", "kin_varma.yml", "kin_varma_curated.yaml")


def _require(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"published model data not found at {path} (set {MODELS_DIR_ENV} or put ../shared/models "
                    "beside the checkout)")
    return path


@pytest.fixture(scope="session")
def shared_models() -> Path:
    directory = models_dir()
    _require(directory / "varma_strain_1.yml")
    return directory


@pytest.fixture(scope="session")
def reference_csv(shared_models: Path) -> Path:
    return _require(shared_models / "tfa_reference_strains.csv")


@pytest.fixture(scope="session")
def strain1(shared_models: Path):
    from kinlatent.model import load_model

    return load_model(shared_models / "varma_strain_1.yml")


@pytest.fixture(scope="session")
def strain2(shared_models: Path):
    from kinlatent.model import load_model

    return load_model(shared_models / "varma_strain_2.yml")


@pytest.fixture(scope="session")
def reference_state(strain1, reference_csv):
    from kinlatent.model.state import read_state

    return read_state(reference_csv, strain1)


@pytest.fixture(scope="session")
def steady1(strain1, reference_state):
    from kinlatent.stability import find_steady_state

    return find_steady_state(strain1, reference_state)


@pytest.fixture(scope="session")
def steady2(strain2, reference_csv):
    from kinlatent.model.state import read_state
    from kinlatent.stability import find_steady_state

    return find_steady_state(strain2, read_state(reference_csv, strain2))


@pytest.fixture(scope="session")
def oracle1(strain1, steady1):
    from kinlatent.stability import OracleStability

    return OracleStability(strain1, steady1.concentrations, steady1.fluxes)


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance (2 CPUs) shared by the integration tests; jobs reuse an initialised Ray."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def sample_cfg(shared_models, tmp_path):
    """Composed sampling config writing to a temp dir, tracking to a temp sqlite store."""
    from kinlatent.hydra_app import compose_config

    def make(*overrides: str):
        base = [f"output.dir={tmp_path / 'dataset'}", "+debug=tiny"]
        if not any(o.startswith("tracking=") for o in overrides):
            base.append(f"tracking.uri=sqlite:///{tmp_path / 'mlflow.db'}")
        return compose_config("sample", list(overrides) + base)

    return make


@pytest.fixture(scope="session")
def nes_generator_dir(shared_models, tmp_path_factory):
    """A RENAISSANCE-size NES generator trained for 10 generations on varma_strain_1 (no Ray, no tracking)."""
    from kinlatent.hydra_app import compose_config
    from kinlatent.pipelines.train import run_train

    directory = tmp_path_factory.mktemp("generators") / "nes"
    run_train(compose_config("train", ["generator=nes", "generator.generations=10", "generator.use_ray=false",
                                       "generator.eval_every=0", "generator.eval_sets=500", "tracking=none",
                                       f"output.dir={directory}"]))
    return directory


@pytest.fixture(scope="session")
def physiology1(steady1):
    from kinlatent.physiology import Physiology

    return Physiology(steady1.model, steady1.concentrations, steady1.fluxes, label="varma_strain_1 steady state")
