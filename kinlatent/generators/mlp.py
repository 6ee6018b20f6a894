"""The MLP generator: z (and an optional one-hot condition) → tanh output in [−1, 1] → ln Km within bounds."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import torch
from torch import Tensor, nn

from kinlatent.exceptions import ConfigError

ACTIVATIONS = {"leaky_relu": lambda: nn.LeakyReLU(0.2), "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU,
               "gelu": nn.GELU}
NORMALISATIONS = ("batch", "layer", "none")


@dataclass(frozen=True)
class GeneratorSpec:
    """Architecture of an MLP generator (REKINDLE defaults: latent 127, 128-256-512, LeakyReLU 0.2, BatchNorm,
    dropout 0.5; RENAISSANCE: latent 99, 256-512-1024)."""

    n_outputs: int
    latent_dim: int = 127
    widths: tuple[int, ...] = (128, 256, 512)
    activation: str = "leaky_relu"
    normalisation: str = "batch"
    dropout: float = 0.5
    n_conditions: int = 0
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.activation not in ACTIVATIONS:
            raise ConfigError(f"unknown activation {self.activation!r}; valid: {', '.join(ACTIVATIONS)}",
                              key="generator.activation")
        if self.normalisation not in NORMALISATIONS:
            raise ConfigError(f"unknown normalisation {self.normalisation!r}; valid: {', '.join(NORMALISATIONS)}",
                              key="generator.normalisation")
        if self.latent_dim <= 0 or self.n_outputs <= 0 or any(w <= 0 for w in self.widths) or not self.widths:
            raise ConfigError("latent_dim, widths and outputs must be positive", key="generator.widths")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout}", key="generator.dropout")

    def to_dict(self) -> dict:
        data = asdict(self)
        data["widths"] = list(self.widths)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GeneratorSpec":
        data = dict(data)
        data["widths"] = tuple(data["widths"])
        return cls(**data)


class MLPGenerator(nn.Module):
    """G(z, c) = lower + (tanh(MLP([z, c])) + 1)/2 · (upper − lower), elementwise over the ln Km vector."""

    def __init__(self, spec: GeneratorSpec, lower: Sequence[float] | Tensor, upper: Sequence[float] | Tensor) -> None:
        super().__init__()
        self.spec = spec
        layers: list[nn.Module] = []
        width_in = spec.latent_dim + spec.n_conditions
        for width in spec.widths:
            layers.append(nn.Linear(width_in, width))
            if spec.normalisation == "batch":
                layers.append(nn.BatchNorm1d(width))
            elif spec.normalisation == "layer":
                layers.append(nn.LayerNorm(width))
            layers.append(ACTIVATIONS[spec.activation]())
            if spec.dropout > 0:
                layers.append(nn.Dropout(spec.dropout))
            width_in = width
        layers += [nn.Linear(width_in, spec.n_outputs), nn.Tanh()]
        self.network = nn.Sequential(*layers)
        lower = torch.as_tensor(lower, dtype=torch.float32)
        upper = torch.as_tensor(upper, dtype=torch.float32)
        if lower.shape != (spec.n_outputs,) or upper.shape != (spec.n_outputs,) or not bool((upper > lower).all()):
            raise ConfigError(f"bounds must be two vectors of length {spec.n_outputs} with upper > lower",
                              key="generator.bounds")
        self.register_buffer("lower", lower)
        self.register_buffer("upper", upper)

    def scaled(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        """Network output in [−1, 1] (the space the GAN's discriminator sees)."""
        if self.spec.n_conditions:
            if condition is None:
                raise ValueError("this generator is conditional: pass a condition")
            z = torch.cat([z, condition.to(z.dtype)], dim=1)
        return self.network(z)

    def to_ln_km(self, scaled: Tensor) -> Tensor:
        return self.lower + (scaled + 1.0) * 0.5 * (self.upper - self.lower)

    def from_ln_km(self, ln_km: Tensor) -> Tensor:
        return 2.0 * (ln_km - self.lower) / (self.upper - self.lower) - 1.0

    def forward(self, z: Tensor, condition: Tensor | None = None) -> Tensor:
        return self.to_ln_km(self.scaled(z, condition))
