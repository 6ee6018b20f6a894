"""Latent search methods on varma_strain_1: three λmax windows × rejection / gradient / CMA-ES, plus a bottleneck.

Trains the default RENAISSANCE NES generator (50 generations, threshold −9) unless --generator is given, then
asks each method for --n distinct models per target and recomputes every returned model's λmax (and control
coefficients) with a fresh kinetic core. Prints a Markdown table (hit rate, evaluations, diversity, wall time).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from kinlatent.generators.card import load_generator
from kinlatent.hydra_app import compose_config
from kinlatent.latent.compare import compare_methods, markdown_table
from kinlatent.physiology import load_physiology
from kinlatent.settings import model_file

WINDOWS = ([-30.0, -20.0], [-12.0, -8.0], [-4.0, -2.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generator", help="a trained generator directory (default: train NES now)")
    parser.add_argument("--n", type=int, default=1000, help="models wanted per target and method")
    args = parser.parse_args()
    torch.set_num_threads(1)
    generator_dir = args.generator
    if generator_dir is None:
        from kinlatent.pipelines.train import run_train

        generator_dir = Path(tempfile.mkdtemp()) / "nes"
        started = time.perf_counter()
        run_train(compose_config("train", ["generator=nes", "generator.use_ray=false", "tracking=none",
                                           f"output.dir={generator_dir}"]))
        print(f"trained NES generator in {time.perf_counter() - started:.0f} s")
    generator, card = load_generator(generator_dir)
    physiology = load_physiology(model_file("varma_strain_1.yml"), row="strain_1")
    targets = [{"windows": {"lambda_max": window}} for window in WINDOWS]
    rows = compare_methods(physiology, generator, targets, n_models=args.n, condition=card.valid_condition)
    bottleneck = compare_methods(physiology, generator,
                                 [{"top_controller": {"flux": "GLCptspp", "enzyme": "ATPS4rpp"}}],
                                 n_models=max(100, args.n // 10), condition=card.valid_condition)
    print(markdown_table(rows + bottleneck))


if __name__ == "__main__":
    main()
