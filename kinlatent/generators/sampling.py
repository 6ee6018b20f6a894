"""Seeded, batched generation of ln Km from a generator (streamed in batches)."""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch

from kinlatent.generators.inference import FusedGenerator
from kinlatent.generators.mlp import MLPGenerator


BLOCK = 1024


def _block(seed: int, index: int, latent_dim: int) -> torch.Tensor:
    state = int(np.random.SeedSequence([seed, index]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.randn(BLOCK, latent_dim, generator=torch.Generator().manual_seed(state))


def latent_batches(n: int, latent_dim: int, seed: int, batch_size: int, start_row: int = 0
                   ) -> Iterator[torch.Tensor]:
    """z ~ N(0, I) for rows start_row..start_row+n−1, drawn in fixed seeded blocks: the same rows whatever the
    batch size or sharding, and memory bounded by the batch size (not n)."""
    for start in range(start_row, start_row + n, batch_size):
        stop = min(start + batch_size, start_row + n)
        first, last = start // BLOCK, (stop - 1) // BLOCK
        blocks = torch.cat([_block(seed, b, latent_dim) for b in range(first, last + 1)])
        yield blocks[start - first * BLOCK: stop - first * BLOCK]


@torch.no_grad()
def generate_ln_km(generator: MLPGenerator, n: int, seed: int, batch_size: int = 8192,
                   condition: int | None = None, start_row: int = 0) -> Iterator[torch.Tensor]:
    """Yield ln Km batches (float64, CPU) of n generated sets; eval mode; deterministic in (weights, seed)."""
    generator.eval()
    device = next(generator.parameters()).device
    fused = FusedGenerator(generator, condition)
    for z in latent_batches(n, generator.spec.latent_dim, seed, batch_size, start_row):
        yield fused(z.to(device)).double().cpu()
