"""Bad study files are refused with an error naming the key, before any work starts (no output, no Ray)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kinlatent.exceptions import ConfigError, KinlatentError
from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.transfer_study import run_transfer_study
from kinlatent.transfer.conditions import ConditionError

REPO = Path(__file__).resolve().parents[2]


def _refused(tmp_path: Path, overrides: list[str], error: type, key: str | None, text: str) -> None:
    cfg = compose_config("transfer_study", [f"output.dir={tmp_path / 'study'}", "tracking=none", "progress=false"]
                         + overrides)
    with pytest.raises(error, match=text) as caught:
        run_transfer_study(cfg)
    if key is not None:
        assert caught.value.key == key, caught.value
    assert not (tmp_path / "study").exists()


@pytest.mark.parametrize("overrides, key, text", [
    (["study.conditions=[varma_strain_2,nowhere]"], "study.conditions[1]", "unknown condition 'nowhere'.*pfk_2x"),
    (["study.conditions=[pfk_2x,pfk_2x]"], "study.conditions", "duplicate condition name"),
    (["study.methods.nes_finetune=[3,0]"], "study.methods.nes_finetune[1]", "positive integer"),
    (["study.methods.gan_finetune=[-5]"], "study.methods.gan_finetune[0]", "positive integer"),
    (["study.methods.nes_finetune=[3,3]"], "study.methods.nes_finetune[1]", "listed twice"),
    (["study.methods.direct=[10]"], "study.methods.direct", "takes no budget"),
    (["+study.methods.teleport=[1]"], "study.methods.teleport", "unknown transfer method.*nes_finetune"),
    (["study.seeds=[0,0]"], "study.seeds[1]", "listed twice"),
    (["+study.settings.nes.popsize=4"], "study.settings.nes.popsize", "unknown nes setting"),
    (["study.settings.nes.population=7"], "study.settings.nes.population", "even"),
    (["study.threshold=2.0"], "study.threshold", "< 0"),
    (["study.reuse=kinetic"], "study.reuse", "saturation, km"),
    (["study.source=/nonexistent/generator"], "study.source", "not found"),
    (["study.settings.nes=abc"], "study.settings.nes", "expected a mapping"),
    (["study.settings.gan.beta1=5"], "study.settings.gan.beta1", r"\[0, 1\)"),
    (["study.settings.nes.lr_decay=50"], "study.settings.nes.lr_decay", r"\(0, 1\]"),
    (["study.settings.latent.search=cmaes", "+study.settings.latent.population=1"],
     "study.settings.latent.population", "at least 4"),
    (["study.seeds=[100000000000000000000000]"], "study.seeds[0]", "at most"),
    (["study.source_train=[generator]"], "study.source_train", "list of kinlatent train overrides"),
    (["study.name=.."], "study.name", "not starting with"),
    (["study.conditions=[{name: x,vmax_scale: {GLCptspp: 2.0},uptake_scale: {GLCptspp: 1.5}}]"],
     "study.conditions[0].uptake_scale.GLCptspp", "both vmax_scale and uptake_scale"),
    (["study.conditions=[{name: x,vmax_scale: {PFK: 2.0},state: /nonexistent.csv}]"], "study.conditions[0].state",
     "belong to a model file condition"),
])
def test_bad_study_settings_are_named(tmp_path, overrides, key, text):
    _refused(tmp_path, overrides, ConfigError, key, text)


def test_enzyme_or_species_not_in_the_model_is_named(shared_models, tmp_path):
    _refused(tmp_path, ["study.conditions=[pfk_2x,{name: ko,vmax_scale: {NOPE: 0.5}}]"], ConditionError,
             "vmax_scale.NOPE", "not in model.*PFK")
    _refused(tmp_path, ["study.conditions=[{name: fast,uptake_scale: {PGI: 2.0}}]"], ConditionError,
             "uptake_scale.PGI", "not an uptake reaction.*GLCptspp")
    _refused(tmp_path, ["study.conditions=[{name: bc,boundary: {atp_c: 5.0}}]"], ConditionError,
             "boundary.atp_c", "not a boundary species.*glc_D_e")


def test_condition_without_a_steady_state_is_refused(shared_models, tmp_path):
    """PGK at 1 % of its capacity: lower glycolysis cannot carry the flux; integration breaks down."""
    _refused(tmp_path, ["study.conditions=[{name: pgk_ko,vmax_scale: {PGK: 0.01}}]"], ConditionError,
             "steady_state", "no steady state for this condition")


def test_condition_needs_a_name_and_a_change(tmp_path):
    _refused(tmp_path, ["study.conditions=[{name: nothing}]"], ConfigError, "study.conditions[0]",
             "model file.*or a perturbation")
    _refused(tmp_path, ["study.conditions=[{name: 'a b',vmax_scale: {PFK: 2.0}}]"], ConfigError,
             "study.conditions[0].name", "without spaces")
    _refused(tmp_path, ["study.conditions=[{name: neg,vmax_scale: {PFK: -1.0}}]"], ConfigError,
             "study.conditions[0].vmax_scale.PFK", "> 0")


def test_bad_output_directory_and_source_files(tmp_path):
    (tmp_path / "a_file").write_text("not a directory")
    _refused(tmp_path, [f"output.dir={tmp_path / 'a_file' / 'study'}"], ConfigError, "output.dir", "not a directory")
    broken = tmp_path / "broken_generator"
    broken.mkdir()
    (broken / "card.json").write_text('{"kind": "nes"}')
    _refused(tmp_path, [f"study.source={broken}", "study.conditions=[pgi_half]"], KinlatentError, None,
             "malformed generator card")


def test_cli_exits_2_before_ray_or_outputs(tmp_path):
    ray_dir = tmp_path / "ray"
    env = dict(os.environ, RAY_TMPDIR=str(ray_dir), PYTHONPATH=str(REPO))
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run([sys.executable, "-m", "kinlatent.cli", "transfer-study", "study.methods.nes_scratch=[0]",
                             f"output.dir={tmp_path / 'study'}", f"hydra.run.dir={tmp_path / 'hydra'}",
                             "tracking=none"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "study.methods.nes_scratch[0]" in result.stderr and "Traceback" not in result.stderr
    assert not ray_dir.exists() and not (tmp_path / "study").exists()
    assert isinstance(ConditionError("x"), KinlatentError)
