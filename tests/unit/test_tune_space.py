"""Sweep configs: search spaces, override text and every bad setting refused before a trial starts (no Ray)."""
from __future__ import annotations

import copy
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from kinlatent.exceptions import ConfigError
from kinlatent.hydra_app import compose_config
from kinlatent.tune.space import grid_size, merge_overrides, override_value, parse_space, trial_overrides
from kinlatent.tune.spec import check_sweep


@pytest.fixture(scope="module")
def tune_configs(tmp_path_factory):
    """The composed tune config of each provided sweep (latent_targets with a stand-in generator directory)."""
    generator = tmp_path_factory.mktemp("generator")
    return {name: OmegaConf.to_container(compose_config("tune", [f"hparams_search={name}"] + extra), resolve=True)
            for name, extra in (("nes_varma", []), ("gan_varma", [f"data={generator}"]),
                                ("latent_targets", [f"source={generator}"]))}


def with_changes(config: dict, **changes) -> dict:
    """A copy of a tune config with ``hparams_search`` entries replaced (dotted paths; None removes)."""
    config = copy.deepcopy(config)
    for path, value in changes.items():
        *parents, last = path.split("__")
        node = config["hparams_search"]
        for part in parents:
            node = node.setdefault(part, {})
        if value is None:
            node.pop(last, None)
        else:
            node[last] = value
    return config


def refused(config: dict, key: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        check_sweep(config)
    assert info.value.key == key


def test_space_syntax_nested_keys_and_every_distribution():
    params = parse_space({"generator": {"lr": {"loguniform": [1e-4, 1e-2]}, "sigma": {"uniform": [0.0, 1]},
                                        "population": {"randint": [4, 9]},
                                        "widths": {"choice": [[16], [32, 32]]}},
                          "target": {"grid": ["lambda_fast", "lambda_mid"]}, "seed": {"grid": [0, 1, 2]}})
    assert list(params) == ["generator.lr", "generator.sigma", "generator.population", "generator.widths", "target",
                            "seed"]
    assert params["generator.lr"].args == (1e-4, 1e-2)
    assert params["generator.population"].values == (4, 8)  # randint: high excluded
    assert params["generator.widths"].args == ("[16]", "[32,32]")  # lists become override text
    assert grid_size(params) == 6


@pytest.mark.parametrize("space, key, match", [
    ({"generator": {"lr": {"logunifrom": [1e-4, 1e-2]}}}, "hparams_search.space.generator.lr.logunifrom",
     "unknown distribution 'logunifrom'"),
    ({"generator": {"population": {"choice": []}}}, "hparams_search.space.generator.population.choice",
     "non-empty list"),
    ({"target": {"grid": []}}, "hparams_search.space.target.grid", "non-empty list"),
    ({"generator": {"lr": {"uniform": [0.1, 0.1]}}}, "hparams_search.space.generator.lr.uniform", "low must be < high"),
    ({"generator": {"population": {"randint": [9, 4]}}}, "hparams_search.space.generator.population.randint",
     "low must be < high"),
    ({"generator": {"lr": {"loguniform": [0, 1]}}}, "hparams_search.space.generator.lr.loguniform", "low > 0"),
    ({"generator": {"lr": {"uniform": [0.1]}}}, "hparams_search.space.generator.lr.uniform", r"\[low, high\]"),
    ({"generator": {"population": {"randint": [1.5, 4]}}}, "hparams_search.space.generator.population.randint",
     "integer"),
    ({"generator": {"lr": 0.001}}, "hparams_search.space.generator.lr", "expected a distribution"),
    ({"generator": {"lr": {"uniform": [0, 1], "choice": [1]}}}, "hparams_search.space.generator.lr",
     "one key"),
    ({}, "hparams_search.space", "non-empty mapping"),
])
def test_bad_spaces_name_the_key(space, key, match):
    with pytest.raises(ConfigError, match=match) as info:
        parse_space(space)
    assert info.value.key == key


def test_override_text_is_what_hydra_parses():
    assert [override_value(v) for v in (True, None, 3, 1e-05, "lambda_mid", [16, 32], "a b")] == \
        ["true", "null", "3", "1e-05", "lambda_mid", "[16,32]", "'a b'"]
    assert trial_overrides({"generator.lr": 0.001, "generator.widths": "[16,32]", "target": "lambda_mid"}) == \
        ["generator.lr=0.001", "generator.widths=[16,32]", "target=lambda_mid"]
    assert merge_overrides(["a=1", "b=2"], ["a=3"]) == ["b=2", "a=3"]
    composed = compose_config("train", ["generator.lr=1e-05", "generator.widths=[16,32]", "data='/tmp/a b'"])
    assert composed.generator.lr == 1e-05 and list(composed.generator.widths) == [16, 32]
    assert composed.data == "/tmp/a b"


def test_provided_sweeps_check(tune_configs):
    nes = check_sweep(tune_configs["nes_varma"])
    assert nes.job.name == "train" and nes.metric == "eval/frac_valid" and nes.scheduler["name"] == "asha"
    assert nes.scheduler["max_t"] == nes.reports == 10  # 20 generations evaluated every 2
    assert "generator.use_ray=false" in nes.fixed_overrides
    gan = check_sweep(tune_configs["gan_varma"])
    assert gan.search_alg["name"] == "optuna" and any(o.startswith("data=/") for o in gan.fixed_overrides)
    latent = check_sweep(tune_configs["latent_targets"])
    assert latent.job.name == "explore" and grid_size(latent.params) == 12 and latent.scheduler == {"name": "fifo"}


@pytest.mark.parametrize("changes, key, match", [
    ({"metric": "eval/nothing"}, "hparams_search.metric", "not reported by the train trainable.*eval/frac_valid"),
    ({"metric": "train/loss_d"}, "hparams_search.metric", "not reported"),  # a GAN metric in an NES sweep
    ({"mode": "maximum"}, "hparams_search.mode", "unknown mode"),
    ({"num_samples": 0}, "hparams_search.num_samples", "positive integer"),
    ({"scheduler__name": "pbt"}, "hparams_search.scheduler.name", "unknown name 'pbt'.*asha"),
    ({"scheduler__reduction_factor": 1}, "hparams_search.scheduler.reduction_factor", "> 1"),
    ({"scheduler__grace_period": 50}, "hparams_search.scheduler.grace_period", "max_t"),
    ({"search_alg__name": "hyperopt"}, "hparams_search.search_alg.name", "valid: random, optuna"),
    ({"resources__cpu": 0}, "hparams_search.resources.cpu", "> 0"),
    ({"resources__gpu": -1}, "hparams_search.resources.gpu", ">= 0"),
    ({"job": "sample"}, "hparams_search.job", "unknown job"),
    ({"space__generator__lrr": {"choice": [1, 2]}}, "hparams_search.space.generator.lrr",
     "does not accept the override"),
    ({"space__output": {"choice": ["a", "b"]}}, "hparams_search.space.output", "set by the sweep"),
    ({"space__generator__eval_every": {"choice": [1, 2]}}, "hparams_search.space.generator.eval_every", "fixed"),
    ({"overrides": ["generator.use_ray=true"] }, "generator.use_ray", "use_ray=false"),
    ({"overrides": ["generator.eval_every"]}, "hparams_search.overrides", "key=value"),
])
def test_bad_nes_sweeps_are_refused(tune_configs, changes, key, match):
    refused(with_changes(tune_configs["nes_varma"], **changes), key, match)


def test_metric_needs_evaluations(tune_configs):
    config = with_changes(tune_configs["nes_varma"])
    config["overrides"] = ["generator.eval_every=0"]
    refused(config, "hparams_search.metric", r"eval_every=0\); reported: train/generation_seconds")


def test_optuna_cannot_enumerate_a_grid(tune_configs):
    config = with_changes(tune_configs["gan_varma"], space__generator__lr={"grid": [1e-4, 1e-3]})
    refused(config, "hparams_search.space.generator.lr", "use choice")


def test_gan_sweep_needs_a_training_set(tune_configs):
    config = copy.deepcopy(tune_configs["gan_varma"])
    config["data"] = None
    refused(config, "data", "training set")
    config["data"] = "/nonexistent/dataset"
    refused(config, "data", "not found")


def test_latent_sweep_needs_a_generator_and_known_targets(tune_configs):
    config = copy.deepcopy(tune_configs["latent_targets"])
    refused(with_changes(config, space__target={"grid": ["lambda_fast", "lambda_nowhere"]}),
            "hparams_search.space.target", "Could not find 'target/lambda_nowhere'.*lambda_mid")
    refused(with_changes(config, metric="eval/frac_valid"), "hparams_search.metric", "explore/hit_rate")
    config["source"] = None
    refused(config, "source", "source=PATH")


def test_cli_refuses_a_bad_sweep_before_ray_starts(tmp_path):
    """In its own process (other tests share a Ray instance): exit 2, the key named, no Ray session, no output."""
    import os
    import subprocess
    import sys

    ray_dir = tmp_path / "ray"
    env = dict(os.environ, RAY_TMPDIR=str(ray_dir), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    env.pop("RAY_ADDRESS", None)
    result = subprocess.run([sys.executable, "-m", "kinlatent.cli", "tune", "hparams_search.metric=eval/nothing",
                             f"output.dir={tmp_path / 'sweep'}", f"hydra.run.dir={tmp_path / 'hydra'}"],
                            capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "hparams_search.metric" in result.stderr
    assert not ray_dir.exists() and not (tmp_path / "sweep").exists()


def test_unknown_top_level_key_of_a_search_space_is_refused(tune_configs):
    refused(with_changes(tune_configs["nes_varma"], foo=1), "hparams_search.foo", "unknown search-space setting")
