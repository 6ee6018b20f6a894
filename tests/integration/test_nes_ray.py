"""NES member rewards computed in Ray tasks equal the in-process computation."""
from __future__ import annotations

import numpy as np
import torch

from kinlatent.generators import GeneratorSpec, MLPGenerator
from kinlatent.generators.bounds import saturation_bounds
from kinlatent.generators.nes import NESConfig, NESTrainer
from kinlatent.physiology import Physiology


def test_rewards_on_ray_match_local(local_ray, steady1):
    physiology = Physiology(steady1.model, steady1.concentrations, steady1.fluxes)
    names = physiology.model.km_parameter_names
    lower, upper = saturation_bounds(physiology, names)
    histories = []
    for use_ray in (False, True):
        torch.manual_seed(0)
        generator = MLPGenerator(GeneratorSpec(n_outputs=len(names), latent_dim=8, widths=(16,),
                                               normalisation="none", dropout=0.0), lower, upper)
        trainer = NESTrainer(generator, physiology, NESConfig(generations=2, population=4, sets_per_member=30,
                                                              threshold=-9.0, eval_every=0, workers=2),
                             use_ray=use_ray)
        histories.append([m["train/reward"] for m in trainer.train()])
    assert np.allclose(histories[0], histories[1], rtol=1e-9)
