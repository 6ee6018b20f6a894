"""Seconds per NES generation on varma_strain_1 with member rewards on 1 and on 2 Ray workers (RENAISSANCE
defaults: population 20, 100 sets per member, generator 99 → 256-512-1024 → 230).

Run: python benchmarks/bench_nes.py [--generations 6]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import ray
import torch

from kinlatent.generators import GeneratorSpec, MLPGenerator
from kinlatent.generators.bounds import saturation_bounds
from kinlatent.generators.nes import NESConfig, NESTrainer
from kinlatent.physiology import load_physiology
from kinlatent.settings import model_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--generations", type=int, default=6)
    args = parser.parse_args()
    physiology = load_physiology(model_file("varma_strain_1"))
    names = physiology.model.km_parameter_names
    lower, upper = saturation_bounds(physiology, names)
    per_generation = {}
    for workers in (1, 2):
        if ray.is_initialized():
            ray.shutdown()
        ray.init(num_cpus=workers, include_dashboard=False, configure_logging=False)
        torch.manual_seed(0)
        generator = MLPGenerator(GeneratorSpec(n_outputs=len(names), latent_dim=99, widths=(256, 512, 1024),
                                               normalisation="none", dropout=0.0), lower, upper)
        trainer = NESTrainer(generator, physiology, NESConfig(threshold=-9.0, eval_every=0, workers=workers))
        trainer.step()  # warm-up: workers start, the physiology is shipped
        times = []
        for _ in range(args.generations):
            started = time.perf_counter()
            trainer.step()
            times.append(time.perf_counter() - started)
        per_generation[workers] = float(np.median(times))
        print(f"{workers} worker(s): {per_generation[workers]:.2f} s per generation (median of {args.generations})")
    ray.shutdown()
    print(f"speed-up per generation 2 vs 1 workers: {per_generation[1] / per_generation[2]:.2f}x")


if __name__ == "__main__":
    main()
