"""Figures of a latent exploration: latent map, property distributions, direction and path profiles."""
from __future__ import annotations

import numpy as np

from kinlatent.tracking.plots import plt


def latent_map(prior_z: np.ndarray, prior_values: np.ndarray, found_z: np.ndarray, prop: str) -> plt.Figure:
    """PCA (2-D) of prior latent samples coloured by ``prop``, with the found points marked."""
    mean = prior_z.mean(axis=0)
    _, _, vt = np.linalg.svd(prior_z - mean, full_matrices=False)
    project = lambda z: (z - mean) @ vt[:2].T  # noqa: E731
    prior_2d = project(prior_z)
    figure, axis = plt.subplots(figsize=(6.4, 5.0))
    finite = np.isfinite(prior_values)
    low, high = (np.quantile(prior_values[finite], [0.02, 0.98]) if finite.any() else (0.0, 1.0))
    scatter = axis.scatter(prior_2d[finite, 0], prior_2d[finite, 1], c=np.clip(prior_values[finite], low, high),
                           s=6, cmap="viridis", alpha=0.7)
    figure.colorbar(scatter, ax=axis, label=f"{prop} (prior samples)")
    if len(found_z):
        found_2d = project(found_z)
        axis.scatter(found_2d[:, 0], found_2d[:, 1], s=10, marker="x", color="#C44E52", label="found")
        axis.legend(loc="upper right")
    axis.set_xlabel("latent PC 1")
    axis.set_ylabel("latent PC 2")
    axis.set_title("latent space (PCA of prior z)")
    figure.tight_layout()
    return figure


def property_distributions(prior: np.ndarray, found: np.ndarray, prop: str,
                           window: tuple[float, float] | None = None) -> plt.Figure:
    """Histogram of a property under the prior vs in the found ensemble, with the target window shaded."""
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    prior = prior[np.isfinite(prior)]
    found = found[np.isfinite(found)]
    both = np.concatenate([prior, found]) if found.size else prior
    bins = np.linspace(*np.quantile(both, [0.005, 0.995]), 60) if both.size else 30
    axis.hist(prior, bins=bins, density=True, alpha=0.5, label=f"prior ({prior.size})", color="#4C72B0")
    if found.size:
        axis.hist(found, bins=bins, density=True, alpha=0.5, label=f"found ({found.size})", color="#DD8452")
    if window is not None:
        low, high = (w if np.isfinite(w) else None for w in window)
        axis.axvspan(low if low is not None else axis.get_xlim()[0],
                     high if high is not None else axis.get_xlim()[1], color="#55A868", alpha=0.15, label="target")
    axis.set_xlabel(prop)
    axis.set_ylabel("density")
    axis.legend()
    figure.tight_layout()
    return figure


def direction_profile(steps: np.ndarray, mean: np.ndarray, q10: np.ndarray, q90: np.ndarray, prop: str,
                      rho: float) -> plt.Figure:
    """Property vs step along a latent direction (mean and 10–90 % band)."""
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    axis.fill_between(steps, q10, q90, alpha=0.3, color="#4C72B0", label="10–90 %")
    axis.plot(steps, mean, marker="o", color="#4C72B0", label="mean")
    axis.set_xlabel("step along the latent direction")
    axis.set_ylabel(prop)
    axis.set_title(f"{prop} along its probe direction (Spearman ρ = {rho:.3f})")
    axis.legend()
    figure.tight_layout()
    return figure


def path_profiles(profiles: dict[str, tuple[np.ndarray, np.ndarray]], prop: str) -> plt.Figure:
    """Property along interpolation paths (one line per kind)."""
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    for kind, (t, values) in profiles.items():
        axis.plot(t, values, marker=".", label=kind)
    axis.set_xlabel("t (0: first point, 1: second point)")
    axis.set_ylabel(prop)
    axis.legend()
    figure.tight_layout()
    return figure
