"""Figures logged with runs (matplotlib, headless Agg backend)."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def lambda_max_histogram(lambda_max: np.ndarray, threshold: float, title: str = "") -> plt.Figure:
    """Histogram of λmax (finite values, clipped to the central 99.8 %) with the validity threshold marked."""
    values = lambda_max[np.isfinite(lambda_max)]
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    if values.size:
        low, high = np.quantile(values, [0.001, 0.999])
        axis.hist(np.clip(values, low, high), bins=100, color="#4C72B0")
    axis.axvline(threshold, color="#C44E52", linestyle="--", label=f"threshold {threshold:g} 1/h")
    axis.set_xlabel("λmax (1/h)")
    axis.set_ylabel("parameter sets")
    axis.set_title(title or f"λmax of {values.size:,} sets; {np.mean(values < threshold):.1%} valid")
    axis.legend()
    figure.tight_layout()
    return figure


def learning_curve(history: list[dict[str, float]], kind: str) -> plt.Figure:
    """Losses (GAN) or rewards (NES) per step, with the evaluated valid incidence on a second axis."""
    steps = [h["step"] for h in history]
    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    keys = ("train/loss_d", "train/loss_g") if kind == "gan" else ("train/reward", "train/reward_max")
    for key in keys:
        axis.plot(steps, [h.get(key, np.nan) for h in history], label=key)
    axis.set_xlabel("epoch" if kind == "gan" else "generation")
    axis.legend(loc="upper left")
    evaluated = [(h["step"], h["eval/frac_valid"]) for h in history if "eval/frac_valid" in h]
    if evaluated:
        twin = axis.twinx()
        twin.plot(*zip(*evaluated), color="#C44E52", marker="o", label="eval/frac_valid")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("valid incidence")
        twin.legend(loc="lower right")
    figure.tight_layout()
    return figure


def ln_km_distributions(generated: np.ndarray, reference: np.ndarray | None, names: list[str],
                        n_panels: int = 12) -> plt.Figure:
    """Histograms of generated ln Km (and of the training data when given) for ``n_panels`` parameters
    spread over the vector."""
    columns = np.linspace(0, len(names) - 1, min(n_panels, len(names))).astype(int)
    rows = int(np.ceil(len(columns) / 4))
    figure, axes = plt.subplots(rows, 4, figsize=(12, 2.4 * rows), squeeze=False)
    for axis, j in zip(axes.flat, columns):
        if reference is not None:
            axis.hist(reference[:, j], bins=40, alpha=0.5, density=True, label="training", color="#4C72B0")
        axis.hist(generated[:, j], bins=40, alpha=0.5, density=True, label="generated", color="#DD8452")
        axis.set_title(names[j], fontsize=8)
    for axis in list(axes.flat)[len(columns):]:
        axis.axis("off")
    axes.flat[0].legend(fontsize=7)
    figure.supxlabel("ln(Km / µM)")
    figure.tight_layout()
    return figure
