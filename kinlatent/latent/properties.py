"""Named, batched, differentiable properties of ORACLE parameter sets (ln Km) around one physiology.

Names (used in configs and targets):

- ``lambda_max``: largest real part of the eigenvalues of J_r (1/h); < 0 means locally stable.
- ``time_constant``: dominant time constant −1/λmax (h); negative for an unstable model.
- ``lambda_min``: most negative real part (the fastest mode, 1/h).
- ``stiffness``: |Re λ|max / |Re λ|min over the spectrum.
- ``oscillation``: |Im| of the dominant eigenvalue (rad/h); 0 for a real dominant mode.
- ``fcc:FLUX:ENZYME``: scaled flux control coefficient C^{J_FLUX}_{ENZYME} (reaction names).
- ``ccc:SPECIES:ENZYME``: scaled concentration control coefficient C^{x_SPECIES}_{ENZYME}.
- ``top_controller:FLUX``: index (in reaction order) of the enzyme with the largest |C^{J_FLUX}_e| (not
  differentiable; for reporting and for the bottleneck target).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from kinlatent.exceptions import ConfigError
from kinlatent.latent.mca import ControlAnalysis
from kinlatent.physiology import Physiology
from kinlatent.stability.eigen import eigenvalues

SPECTRAL = ("lambda_max", "time_constant", "lambda_min", "stiffness", "oscillation")
CONTROL_PREFIXES = ("fcc", "ccc", "top_controller")


@dataclass(frozen=True)
class PropertyName:
    """A parsed property name: kind plus the reaction/species indices it refers to."""

    text: str
    kind: str
    row: int | None = None
    column: int | None = None


class PropertyEvaluator:
    """Evaluates named properties for batches of ln Km (float64 torch), differentiably where possible."""

    def __init__(self, physiology: Physiology, device: str | torch.device = "cpu") -> None:
        self.physiology = physiology
        self.model = physiology.model
        self.oracle = physiology.oracle(device)
        self.control = ControlAnalysis(self.oracle)
        self.reaction_index = {name: i for i, name in enumerate(self.model.reaction_names)}
        self.ode_index = {name: i for i, name in enumerate(self.model.ode_species)}

    # ---- names ----------------------------------------------------------------------------------------------
    def valid_names(self) -> str:
        """A one-line description of the valid property names, for error messages."""
        reactions = self.model.reaction_names
        return (f"{', '.join(SPECTRAL)}, fcc:FLUX:ENZYME, ccc:SPECIES:ENZYME, top_controller:FLUX "
                f"(reactions: {', '.join(reactions[:8])}, … {len(reactions)} in all)")

    def _reaction(self, name: str, text: str, key: str) -> int:
        if name not in self.reaction_index:
            raise ConfigError(f"{name!r} in property {text!r} is not a reaction of {self.model.name}; reactions: "
                              f"{', '.join(self.model.reaction_names)}", key=key)
        return self.reaction_index[name]

    def parse(self, text: str, key: str = "property") -> PropertyName:
        """Check a property name; errors list the valid names."""
        if not isinstance(text, str) or not text:
            raise ConfigError(f"a property name must be a non-empty string, got {text!r}; valid: "
                              f"{self.valid_names()}", key=key)
        parts = text.split(":")
        if len(parts) == 1 and parts[0] in SPECTRAL:
            return PropertyName(text, parts[0])
        if parts[0] == "fcc" and len(parts) == 3:
            return PropertyName(text, "fcc", self._reaction(parts[1], text, key), self._reaction(parts[2], text, key))
        if parts[0] == "ccc" and len(parts) == 3:
            if parts[1] not in self.ode_index:
                raise ConfigError(f"{parts[1]!r} in {text!r} is not a species with an ODE in {self.model.name}; "
                                  f"species: {', '.join(self.model.ode_species)}", key=key)
            return PropertyName(text, "ccc", self.ode_index[parts[1]], self._reaction(parts[2], text, key))
        if parts[0] == "top_controller" and len(parts) == 2:
            return PropertyName(text, "top_controller", self._reaction(parts[1], text, key))
        raise ConfigError(f"unknown property {text!r}; valid: {self.valid_names()}", key=key)

    # ---- evaluation -----------------------------------------------------------------------------------------
    def spectrum(self, ln_km: Tensor) -> dict[str, Tensor]:
        """Summary of the spectrum of J_r: the five spectral properties, each (B,)."""
        values = eigenvalues(self.oracle.reduced_jacobian(ln_km))
        real = values.real
        dominant = torch.argmax(real, dim=-1, keepdim=True)
        lam_max = real.max(dim=-1).values
        magnitude = real.abs()
        return {
            "lambda_max": lam_max,
            "time_constant": -1.0 / lam_max,
            "lambda_min": real.min(dim=-1).values,
            "stiffness": magnitude.max(dim=-1).values / magnitude.min(dim=-1).values,
            "oscillation": torch.gather(values.imag, -1, dominant).squeeze(-1).abs(),
        }

    def flux_control_rows(self, ln_km: Tensor, fluxes: Sequence[int]) -> Tensor:
        """Scaled C^J rows for the given flux indices, (B, len(fluxes), R)."""
        return self.control.coefficients(ln_km).flux[:, list(fluxes), :]

    def evaluate(self, names: Iterable[str | PropertyName], ln_km: Tensor) -> dict[str, Tensor]:
        """{name: (B,) tensor} for every requested property (spectrum and MCA computed at most once)."""
        parsed = [n if isinstance(n, PropertyName) else self.parse(n) for n in names]
        ln_km = self.oracle._check(ln_km)
        out: dict[str, Tensor] = {}
        if any(p.kind in SPECTRAL for p in parsed):
            spectrum = self.spectrum(ln_km)
            out.update({p.text: spectrum[p.kind] for p in parsed if p.kind in SPECTRAL})
        if any(p.kind in CONTROL_PREFIXES for p in parsed):
            coefficients = self.control.coefficients(ln_km)
            for p in parsed:
                if p.kind == "fcc":
                    out[p.text] = coefficients.flux[:, p.row, p.column]
                elif p.kind == "ccc":
                    out[p.text] = coefficients.concentration[:, p.row, p.column]
                elif p.kind == "top_controller":
                    out[p.text] = coefficients.flux[:, p.row, :].abs().argmax(dim=-1)
        return out


def as_numpy(values: Mapping[str, Tensor]) -> dict[str, "object"]:
    """Detach a property dict to numpy arrays."""
    return {k: v.detach().cpu().numpy() for k, v in values.items()}
