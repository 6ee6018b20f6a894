"""Acceptance of latent exploration at full size (slow): 3 λmax windows × gradient and CMA-ES, 1,000 models each."""
from __future__ import annotations

import pytest

from kinlatent.generators.card import load_generator
from kinlatent.latent.compare import compare_methods, markdown_table

WINDOWS = ([-30.0, -20.0], [-12.0, -8.0], [-4.0, -2.5])


@pytest.mark.slow
def test_three_windows_gradient_and_cmaes_each_find_1000_distinct_models(nes_generator_dir, physiology1):
    generator, card = load_generator(nes_generator_dir)
    rows = compare_methods(physiology1, generator, [{"windows": {"lambda_max": w}} for w in WINDOWS],
                           n_models=1000, condition=card.valid_condition)
    print("\n" + markdown_table(rows))
    for row in rows:
        if row["method"] == "rejection":
            # the baseline spends its whole budget unless it fills up first
            assert row["evaluations"] == 20_000 or row["n_hits"] >= 1000, row
            continue
        assert row["n_distinct"] >= 1000 and row["hit_rate"] >= 0.9, row
