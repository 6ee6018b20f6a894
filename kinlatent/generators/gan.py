"""REKINDLE-style conditional GAN: learns ln Km of a sampled training set, conditioned on the valid label.

ln Km columns are min–max scaled to [−1, 1] with the training set's own ranges (those ranges become the
generator's output bounds). Defaults follow REKINDLE: latent 127; G 128-256-512, LeakyReLU 0.2, BatchNorm,
dropout 0.5, tanh output; D 32-64-128, LeakyReLU 0.2, dropout 0.4; Adam lr 2e-4, β1 0.5; batch 1024.
"""
from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor, nn

from kinlatent.generators.mlp import GeneratorSpec, MLPGenerator

logger = logging.getLogger(__name__)
VALID, INVALID = 1, 0


@dataclass(frozen=True)
class GANConfig:
    epochs: int = 100
    batch_size: int = 1024
    lr: float = 2e-4
    beta1: float = 0.5
    discriminator_widths: tuple[int, ...] = (32, 64, 128)
    discriminator_dropout: float = 0.4
    discriminator_lr: float | None = None   # None: same as lr
    auxiliary_weight: float = 0.0           # > 0: AC-GAN head on D predicting the label; G pushed towards its class
    ema_decay: float = 0.0                  # > 0: the output generator is an exponential moving average of G
    seed: int = 0


class Discriminator(nn.Module):
    """D(x, c) → logit that x (scaled ln Km) with condition c comes from the training set.

    With ``auxiliary`` it also has an AC-GAN head: logits of the label predicted from x alone.
    """

    def __init__(self, n_inputs: int, n_conditions: int, widths: tuple[int, ...], dropout: float,
                 auxiliary: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in = n_inputs + n_conditions
        for width in widths:
            layers += [nn.Linear(width_in, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
            width_in = width
        layers.append(nn.Linear(width_in, 1))
        self.network = nn.Sequential(*layers)
        self.classifier: nn.Module | None = None
        if auxiliary:
            hidden: list[nn.Module] = []
            width_in = n_inputs
            for width in widths:
                hidden += [nn.Linear(width_in, width), nn.LeakyReLU(0.2), nn.Dropout(dropout)]
                width_in = width
            self.classifier = nn.Sequential(*hidden, nn.Linear(width_in, n_conditions))

    def forward(self, x: Tensor, condition: Tensor) -> Tensor:
        return self.network(torch.cat([x, condition], dim=1)).squeeze(1)

    def classify(self, x: Tensor) -> Tensor:
        """Label logits (B, n_conditions) of the auxiliary classifier."""
        if self.classifier is None:
            raise ValueError("this discriminator has no auxiliary classifier")
        return self.classifier(x)


def data_bounds(ln_km: np.ndarray, margin: float = 1e-6) -> tuple[np.ndarray, np.ndarray]:
    """Per-column min and max of the training set (widened by a hair so that no column is degenerate)."""
    lower, upper = ln_km.min(axis=0), ln_km.max(axis=0)
    span = np.maximum(upper - lower, margin)
    return lower - 1e-3 * span, upper + 1e-3 * span


class ConditionalGANTrainer:
    """Adversarial training of an :class:`MLPGenerator` (with 2 conditions) on a labelled training set.

    An unconditional generator (n_conditions = 0) is trained as a plain GAN on all rows (labels ignored, no
    AC-GAN head): what transfer fine-tuning does with the valid sets of a new physiology.
    """

    def __init__(self, generator: MLPGenerator, ln_km: np.ndarray, labels: np.ndarray, config: GANConfig) -> None:
        if generator.spec.n_conditions not in (0, 2):
            raise ValueError("the GAN needs a generator with n_conditions = 2 (conditional) or 0 (unconditional)")
        self.n_conditions = generator.spec.n_conditions
        torch.manual_seed(config.seed)
        self.generator = generator
        self.config = config
        with torch.no_grad():
            self.data = generator.from_ln_km(torch.as_tensor(ln_km, dtype=torch.float32)).clamp(-1, 1)
        self.labels = torch.as_tensor(labels, dtype=torch.long)
        self.auxiliary_weight = config.auxiliary_weight if self.n_conditions else 0.0
        self.discriminator = Discriminator(generator.spec.n_outputs, self.n_conditions, config.discriminator_widths,
                                           config.discriminator_dropout, auxiliary=self.auxiliary_weight > 0)
        betas = (config.beta1, 0.999)
        self.opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=config.discriminator_lr or config.lr,
                                      betas=betas)
        self.loss = nn.BCEWithLogitsLoss()
        self.epoch = 0
        self.shuffle = torch.Generator().manual_seed(config.seed)
        self.averaged: MLPGenerator | None = None
        if config.ema_decay > 0:
            self.averaged = copy.deepcopy(generator).eval()
            for parameter in self.averaged.parameters():
                parameter.requires_grad_(False)

    @property
    def output_generator(self) -> MLPGenerator:
        """The generator to evaluate and save: the weight average when ``ema_decay`` > 0, else G itself."""
        return self.averaged if self.averaged is not None else self.generator

    @torch.no_grad()
    def _update_average(self) -> None:
        if self.averaged is None:
            return
        decay = self.config.ema_decay
        for average, current in zip(self.averaged.parameters(), self.generator.parameters()):
            average.mul_(decay).add_(current, alpha=1.0 - decay)
        for average, current in zip(self.averaged.buffers(), self.generator.buffers()):
            average.copy_(current)  # BatchNorm running statistics and the output bounds

    def _one_hot(self, labels: Tensor) -> Tensor:
        if not self.n_conditions:
            return torch.zeros(len(labels), 0)
        return nn.functional.one_hot(labels, 2).float()

    def train_epoch(self) -> dict[str, float]:
        started = time.perf_counter()
        self.generator.train()
        self.discriminator.train()
        order = torch.randperm(len(self.data), generator=self.shuffle)
        losses_d, losses_g = [], []
        for start in range(0, len(order), self.config.batch_size):
            idx = order[start:start + self.config.batch_size]
            if len(idx) < 2:
                continue
            real, cond = self.data[idx], self._one_hot(self.labels[idx])
            z = torch.randn(len(idx), self.generator.spec.latent_dim)
            fake = self.generator.scaled(z, cond)
            ones, zeros = torch.ones(len(idx)), torch.zeros(len(idx))
            labels = self.labels[idx]
            self.opt_d.zero_grad()
            loss_d = self.loss(self.discriminator(real, cond), ones) + \
                self.loss(self.discriminator(fake.detach(), cond), zeros)
            if self.auxiliary_weight > 0:  # the classifier learns the label from real data only
                loss_d = loss_d + self.auxiliary_weight * \
                    nn.functional.cross_entropy(self.discriminator.classify(real), labels)
            loss_d.backward()
            self.opt_d.step()
            self.opt_g.zero_grad()
            loss_g = self.loss(self.discriminator(fake, cond), ones)
            if self.auxiliary_weight > 0:  # generated sets should be recognised as their condition
                loss_g = loss_g + self.auxiliary_weight * \
                    nn.functional.cross_entropy(self.discriminator.classify(fake), labels)
            loss_g.backward()
            self.opt_g.step()
            self._update_average()
            losses_d.append(loss_d.item())
            losses_g.append(loss_g.item())
        self.epoch += 1
        self.generator.eval()
        return {"train/loss_d": float(np.mean(losses_d)), "train/loss_g": float(np.mean(losses_g)),
                "train/epoch_seconds": time.perf_counter() - started}

    def train(self, callback: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
        history = []
        for _ in range(self.config.epochs):
            metrics = self.train_epoch()
            if callback:
                callback(self.epoch, metrics)
            history.append(metrics)
        return history


def rekindle_generator(n_outputs: int, lower: np.ndarray, upper: np.ndarray, latent_dim: int = 127,
                       widths: tuple[int, ...] = (128, 256, 512), dropout: float = 0.5) -> MLPGenerator:
    spec = GeneratorSpec(n_outputs=n_outputs, latent_dim=latent_dim, widths=widths, activation="leaky_relu",
                         normalisation="batch", dropout=dropout, n_conditions=2)
    return MLPGenerator(spec, lower, upper)
