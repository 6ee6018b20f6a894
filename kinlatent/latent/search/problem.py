"""A latent search problem: generator z → ln Km → properties → target, with an evaluation counter."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor

from kinlatent.generators.mlp import MLPGenerator
from kinlatent.latent.properties import PropertyEvaluator
from kinlatent.latent.targets import Assessment, TargetSet, assess


@dataclass
class LatentProblem:
    """Everything a search method needs; ``evaluations`` counts property evaluations (one per set)."""

    generator: MLPGenerator
    evaluator: PropertyEvaluator
    target: TargetSet
    condition: int | None = None
    evaluations: int = field(default=0)

    def __post_init__(self) -> None:
        self.generator.eval()
        for parameter in self.generator.parameters():
            parameter.requires_grad_(False)

    @property
    def latent_dim(self) -> int:
        return self.generator.spec.latent_dim

    def prior(self, n: int, seed: int) -> Tensor:
        """n draws of z ~ N(0, I), deterministic in seed."""
        return torch.randn(n, self.latent_dim, generator=torch.Generator().manual_seed(int(seed)))

    def decode(self, z: Tensor) -> Tensor:
        """ln Km (float64) of latent points z (differentiable)."""
        condition = None
        if self.generator.spec.n_conditions:
            label = torch.full((z.shape[0],), int(self.condition or 0))
            condition = torch.nn.functional.one_hot(label, self.generator.spec.n_conditions)
        return self.generator(z.float(), condition).double()

    def assess(self, z: Tensor) -> tuple[Tensor, Assessment]:
        """ln Km and the target assessment of z (differentiable when z requires grad)."""
        ln_km = self.decode(z)
        self.evaluations += z.shape[0]
        return ln_km, assess(self.target, self.evaluator, ln_km)

    @torch.no_grad()
    def assess_numpy(self, z: np.ndarray | Tensor, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray,
                                                                              np.ndarray, dict[str, np.ndarray]]:
        """(ln Km, satisfied, violation, values) as numpy, in chunks (no gradient)."""
        z = torch.as_tensor(np.asarray(z), dtype=torch.float32)
        parts = []
        for start in range(0, z.shape[0], chunk):
            ln_km, result = self.assess(z[start:start + chunk])
            parts.append((ln_km, result))
        ln_km = torch.cat([p[0] for p in parts]).numpy()
        satisfied = torch.cat([p[1].satisfied for p in parts]).numpy()
        violation = torch.cat([p[1].violation for p in parts]).numpy()
        names = parts[0][1].values.keys() if parts else []
        values = {n: torch.cat([p[1].values[n] for p in parts]).numpy() for n in names}
        return ln_km, satisfied, violation, values
