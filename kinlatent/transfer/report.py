"""The study's summary: a table (CSV + Markdown) with one row per (condition, method, budget, seed) and a plot
of valid incidence after transfer vs budget, one panel per condition, one line per method."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from kinlatent.transfer.methods import BUDGETLESS
from kinlatent.tune.results import write_table

CSV, MARKDOWN, PLOT = "results.csv", "results.md", "incidence_vs_budget.png"
COLUMNS = ("condition", "method", "budget", "budget_meaning", "seed", "threshold", "flux_shift", "max_flux_change",
           "incidence_before", "incidence_after", "evaluations", "diversity", "wall_seconds", "status")


def write_summary(directory: Path, rows: Sequence[dict[str, Any]], name: str) -> str:
    """``results.csv``, ``results.md`` and the plot in ``directory``; returns the Markdown table."""
    body = [[row.get(column) for column in COLUMNS] for row in rows]
    _, markdown = write_table(directory, list(COLUMNS), body,
                              f"Transfer study {name}: incidence of valid models (λmax < threshold, 1/h)")
    figure = incidence_plot(rows)
    figure.savefig(directory / PLOT, dpi=110)
    from kinlatent.tracking.plots import plt

    plt.close(figure)
    return markdown.read_text()


def incidence_plot(rows: Sequence[dict[str, Any]]):
    """Incidence after transfer vs budget (log axis) per method; direct reuse as a horizontal line."""
    from kinlatent.tracking.plots import plt

    conditions = list(dict.fromkeys(r["condition"] for r in rows))
    figure, axes = plt.subplots(1, len(conditions), figsize=(4.2 * len(conditions), 3.6), squeeze=False,
                                sharey=True)
    for axis, condition in zip(axes[0], conditions):
        mine = [r for r in rows if r["condition"] == condition]
        for method in dict.fromkeys(r["method"] for r in mine):
            points = sorted((r["budget"], r["incidence_after"]) for r in mine if r["method"] == method)
            if method in BUDGETLESS:
                axis.axhline(sum(p[1] for p in points) / len(points), linestyle="--", label=method,
                             color="black" if method == "direct" else "grey")
                continue
            budgets = sorted({p[0] for p in points})
            means = [sum(p[1] for p in points if p[0] == b) / sum(1 for p in points if p[0] == b) for b in budgets]
            axis.plot(budgets, means, marker="o", label=method)
        axis.set_xscale("log")
        axis.set_title(f"{condition} (λmax < {mine[0]['threshold']:g} 1/h)", fontsize=9)
        axis.set_xlabel("budget (samples / generations / evaluations)")
        axis.set_ylim(-0.02, 1.02)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("incidence of valid models")
    handles: dict[str, Any] = {}
    for axis in axes[0]:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            handles.setdefault(label, handle)
    figure.legend(list(handles.values()), list(handles), fontsize=8, loc="center right")
    figure.tight_layout(rect=(0, 0, 0.86, 1))
    return figure
