"""Fast generation: an eval-mode generator folded into plain matrix products for one fixed condition.

BatchNorm (running statistics) is folded into the preceding linear layer, the one-hot condition into the first
layer's bias, dropout is dropped (eval mode), activations run in place and the output scaling is one fused
multiply-add — so generation is bound by the matrix products, as it should be. Results equal the module's
eval-mode output up to float32 rounding.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from kinlatent.generators.mlp import MLPGenerator

_IN_PLACE: dict[type, Callable[[nn.Module], Callable[[Tensor], Tensor]]] = {
    nn.LeakyReLU: lambda m: (lambda x: torch.nn.functional.leaky_relu_(x, m.negative_slope)),
    nn.ReLU: lambda m: torch.relu_,
    nn.Tanh: lambda m: torch.tanh_,
    nn.ELU: lambda m: (lambda x: torch.nn.functional.elu_(x, m.alpha)),
}


class FusedGenerator:
    """z (B, latent_dim) → ln Km (B, n_outputs), float32, for a fixed condition; no autograd."""

    @torch.no_grad()
    def __init__(self, generator: MLPGenerator, condition: int | None = None) -> None:
        spec = generator.spec
        modules = list(generator.network)
        self.steps: list[Callable[[Tensor], Tensor]] = []
        first = True
        index = 0
        while index < len(modules):
            module = modules[index]
            if isinstance(module, nn.Linear):
                weight, bias = module.weight.detach().clone(), module.bias.detach().clone()
                if first and spec.n_conditions:
                    bias = bias + weight[:, spec.latent_dim + int(condition or 0)]
                    weight = weight[:, :spec.latent_dim]
                first = False
                following = modules[index + 1] if index + 1 < len(modules) else None
                if isinstance(following, nn.BatchNorm1d):
                    scale = following.weight / torch.sqrt(following.running_var + following.eps)
                    weight = weight * scale[:, None]
                    bias = (bias - following.running_mean) * scale + following.bias
                    index += 1
                self.steps.append(self._linear(weight.t().contiguous(), bias.contiguous()))
            elif isinstance(module, nn.Dropout):
                pass
            elif type(module) in _IN_PLACE:
                self.steps.append(_IN_PLACE[type(module)](module))
            else:  # LayerNorm, GELU: applied as they are
                self.steps.append(module.eval())
            index += 1
        span = (generator.upper - generator.lower).detach()
        self.half_span = 0.5 * span
        self.offset = generator.lower.detach() + 0.5 * span  # ln Km = offset + tanh · span/2

    @staticmethod
    def _linear(weight_t: Tensor, bias: Tensor) -> Callable[[Tensor], Tensor]:
        return lambda x: torch.addmm(bias, x, weight_t)

    @torch.inference_mode()
    def __call__(self, z: Tensor) -> Tensor:
        x = z
        for step in self.steps:
            x = step(x)
        return torch.addcmul(self.offset, x, self.half_span)
