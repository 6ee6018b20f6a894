"""Generator core: architecture, bounds, seeded generation, save/load, NES training on the real model."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kinlatent.exceptions import ConfigError
from kinlatent.generators import GeneratorCard, GeneratorSpec, MLPGenerator, generate_ln_km, load_generator, \
    save_generator
from kinlatent.generators.bounds import saturation_bounds
from kinlatent.generators.card import GeneratorCardError
from kinlatent.generators.nes import NESConfig, NESTrainer
from kinlatent.generators.rewards import reward
from kinlatent.physiology import Physiology


@pytest.fixture(scope="module")
def physiology(steady1):
    return Physiology(steady1.model, steady1.concentrations, steady1.fluxes)


def _generator(physiology, **spec):
    names = physiology.model.km_parameter_names
    lower, upper = saturation_bounds(physiology, names)
    torch.manual_seed(0)
    return MLPGenerator(GeneratorSpec(n_outputs=len(names), **spec), lower, upper), names, lower, upper


def _card(physiology, generator, names, lower, upper):
    return GeneratorCard(kind="nes", parameter_names=names, spec=generator.spec, lower=tuple(lower),
                         upper=tuple(upper), model_name=physiology.model.name,
                         model_sha256=physiology.model.fingerprint(), physiology_sha256=physiology.fingerprint,
                         threshold=-9.0)


def test_saturation_bounds_cover_the_requested_saturations(physiology):
    names = physiology.model.km_parameter_names
    lower, upper = saturation_bounds(physiology, names, sigma_min=0.01)
    # at the lower bound Km is small: saturation x/(x + Km) = 0.99; at the upper bound 0.01
    km = np.exp(lower[0])
    x = np.exp((lower[0] + upper[0]) / 2)
    assert x / (x + km) == pytest.approx(0.99)


def test_outputs_stay_within_bounds_and_rows_are_seeded(physiology):
    generator, names, lower, upper = _generator(physiology, latent_dim=16, widths=(32, 64))
    batches = torch.cat(list(generate_ln_km(generator, 3000, seed=5, batch_size=1000)))
    again = torch.cat(list(generate_ln_km(generator, 3000, seed=5, batch_size=777)))
    assert batches.shape == (3000, len(names))
    assert torch.equal(batches, again)
    assert (batches >= torch.as_tensor(lower).float().double() - 1e-5).all()
    assert (batches <= torch.as_tensor(upper).float().double() + 1e-5).all()
    assert not torch.equal(batches, torch.cat(list(generate_ln_km(generator, 3000, seed=6))))


def test_save_and_reload_is_bit_identical(physiology, tmp_path):
    generator, names, lower, upper = _generator(physiology, latent_dim=8, widths=(16,), normalisation="batch")
    generator.train()
    generator(torch.randn(64, 8))  # move BatchNorm running statistics away from their initial values
    card = _card(physiology, generator, names, lower, upper)
    save_generator(generator, card, tmp_path / "g")
    loaded, loaded_card = load_generator(tmp_path / "g")
    assert loaded_card == card
    first = torch.cat(list(generate_ln_km(generator, 500, seed=1)))
    second = torch.cat(list(generate_ln_km(loaded, 500, seed=1)))
    assert torch.equal(first, second)


def test_card_for_another_model_is_refused(physiology, strain2, tmp_path):
    generator, names, lower, upper = _generator(physiology, latent_dim=8, widths=(16,))
    card = _card(physiology, generator, names, lower, upper)
    with pytest.raises(GeneratorCardError, match="another model"):
        card.check_model(strain2.fingerprint(), strain2.km_parameter_names)
    with pytest.raises(GeneratorCardError, match="Km"):
        card.check_model(physiology.model.fingerprint(), names[:-1])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "card.json").write_text("{not json")
    with pytest.raises(GeneratorCardError, match="not valid JSON"):
        load_generator(tmp_path / "bad")


def test_bad_architecture_names_valid_choices():
    with pytest.raises(ConfigError, match="leaky_relu"):
        GeneratorSpec(n_outputs=3, activation="swishy")
    with pytest.raises(ConfigError, match="batch"):
        GeneratorSpec(n_outputs=3, normalisation="group")


def test_reward_modes():
    lam = np.array([-20.0, -10.0, -1.0, np.nan])
    assert reward(lam, -9.0, shaping_weight=0.0) == pytest.approx(0.5)
    # the smooth term ranks members even when no set passes
    assert reward(np.array([-8.0, -8.0]), -9.0) > reward(np.array([5.0, 5.0]), -9.0) > 0
    assert reward(np.array([-18.0]), -9.0, mode="fastest") == pytest.approx(2.0)
    with pytest.raises(ValueError, match="incidence"):
        reward(lam, -9.0, mode="slowest")


def test_nes_increases_reward_on_varma(physiology):
    """A generation-by-generation ascent: the 'fastest' reward must improve over a few generations."""
    generator, *_ = _generator(physiology, latent_dim=12, widths=(32, 64), normalisation="none", dropout=0.0)
    trainer = NESTrainer(generator, physiology, NESConfig(generations=6, population=8, sigma=0.02, lr=5e-3,
                                                          sets_per_member=40, reward_mode="fastest",
                                                          threshold=-9.0, eval_sets=200, seed=1),
                         use_ray=False)
    before = np.nanmedian(trainer.evaluate(200, seed=99))
    history = trainer.train()
    after = np.nanmedian(trainer.evaluate(200, seed=99))
    assert len(history) == 6 and "eval/frac_valid" in history[-1]
    assert after < before - 0.1  # faster dynamics: λmax moved down


def test_conditional_gan_learns_class_conditional_distributions():
    """Synthetic, analytic case: class 1 centred at +0.5, class 0 at −0.5 in both coordinates."""
    from kinlatent.generators.gan import ConditionalGANTrainer, GANConfig, rekindle_generator

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 4000)
    centres = np.where(labels[:, None] == 1, 0.5, -0.5)
    data = centres + 0.1 * rng.standard_normal((4000, 2))
    torch.manual_seed(0)
    generator = rekindle_generator(2, np.array([-1.5, -1.5]), np.array([1.5, 1.5]), latent_dim=4,
                                   widths=(32, 32), dropout=0.0)
    trainer = ConditionalGANTrainer(generator, data, labels, GANConfig(epochs=40, batch_size=256, lr=2e-3,
                                                                       discriminator_widths=(32, 32),
                                                                       discriminator_dropout=0.0, seed=0))
    history = trainer.train()
    assert len(history) == 40 and np.isfinite(history[-1]["train/loss_d"])
    for condition, centre in ((1, 0.5), (0, -0.5)):
        generated = torch.cat(list(generate_ln_km(generator, 2000, seed=3, condition=condition))).numpy()
        assert np.allclose(generated.mean(axis=0), centre, atol=0.15), (condition, generated.mean(axis=0))


@pytest.mark.parametrize("normalisation, n_conditions, activation", [
    ("none", 0, "leaky_relu"), ("batch", 2, "leaky_relu"), ("layer", 0, "gelu"), ("batch", 0, "elu")])
def test_fused_generation_equals_the_eval_mode_module(normalisation, n_conditions, activation):
    """BatchNorm folded into the linear layers and the condition into the first bias change nothing but rounding."""
    from kinlatent.generators.inference import FusedGenerator

    torch.manual_seed(0)
    spec = GeneratorSpec(n_outputs=30, latent_dim=12, widths=(32, 64), normalisation=normalisation, dropout=0.3,
                         n_conditions=n_conditions, activation=activation)
    generator = MLPGenerator(spec, -torch.rand(30) * 5, torch.rand(30) * 5)
    for module in generator.modules():
        if isinstance(module, torch.nn.BatchNorm1d):  # non-trivial running statistics and affine parameters
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.normal_()
            module.bias.data.normal_()
    generator.eval()
    z = torch.randn(200, 12)
    for condition in ([0, 1] if n_conditions else [None]):
        one_hot = torch.nn.functional.one_hot(torch.full((200,), condition), 2) if n_conditions else None
        expected = generator(z, one_hot)
        torch.testing.assert_close(FusedGenerator(generator, condition)(z), expected, rtol=1e-5, atol=1e-5)
