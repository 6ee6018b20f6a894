"""`kinlatent inspect`: structure, steady state and spectrum of a model file, as a JSON-ready dict."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch

from kinlatent.model import load_model
from kinlatent.model.state import read_state, reference_state_file
from kinlatent.ratelaws.compiled import CompiledRateLaws
from kinlatent.stability import find_steady_state, leading_eigenvalues

logger = logging.getLogger(__name__)


def inspect_model(model_path: str | Path, state_path: str | Path | None = None,
                  row: str | int | None = None) -> dict[str, Any]:
    """Summary of a model. With all rate-law parameters present, the steady state is found from the state
    file (default: the pyTFA reference beside the model) and its residual and spectrum are reported."""
    model_path = resolve_model_path(model_path)
    model = load_model(model_path)
    conservation = model.conservation
    compiled = CompiledRateLaws(model)
    missing = [n for n in compiled.parameter_names + model.boundary_species if model.parameters.get(n) is None]
    vmax_given = any(model.parameters.get(r.parameter("vmax_forward")) is not None for r in model.reactions)
    if missing and vmax_given:
        # a parameterized file with holes is damaged, not a structure-only file
        from kinlatent.exceptions import MissingParameterError

        absent = [n for n in missing if n not in model.parameters]
        raise MissingParameterError(
            f"{len(missing)} parameter(s) needed for the steady state are "
            f"{'absent' if absent else 'null'}: {', '.join(missing[:5])}", source=model.source, key=missing[0])
    summary: dict[str, Any] = {
        "model": model.name,
        "file": str(model_path),
        "n_reactions": model.n_reactions,
        "n_species": len(model.ode_species),
        "n_boundary": len(model.boundary_species),
        "n_conserved_moieties": conservation.n_dependent,
        "n_independent": conservation.n_independent,
        "n_km": len(model.km_parameter_names),
        "mechanisms": _count(r.mechanism for r in model.reactions),
        "modifiers": _count(m.kind for r in model.reactions for m in r.modifiers),
        "conserved_moieties": conservation.moiety_dicts(),
        "dependent_species": [model.ode_species[i] for i in conservation.dependent],
        "missing_parameters": len(missing),
        "state_file": None,
        "steady_state_residual": None,
        "lambda_max": None,
        "eigenvalues": None,
        "concentrations": None,
        "fluxes": None,
    }
    if missing:
        summary["note"] = (f"{len(missing)} rate-law parameters are null (e.g. {missing[0]}): structure only, "
                           "no steady state")
        return summary
    state_path = state_path or reference_state_file(model_path)
    if state_path is None:
        summary["note"] = "no state file given and none beside the model: pass --state CSV"
        return summary
    state = read_state(state_path, model, row=row)
    steady = find_steady_state(model, state)
    slots_jacobian = _reduced_jacobian(compiled, steady.concentrations)
    values = torch.linalg.eigvals(slots_jacobian)
    top = leading_eigenvalues(values, 5)[0]
    summary.update(
        state_file=str(state_path),
        steady_state_residual=steady.residual,
        lambda_max=float(values.real.max()),
        eigenvalues=[[float(v.real), float(v.imag)] for v in top],
        concentrations=steady.concentration_dict(),
        fluxes=steady.flux_dict(),
    )
    return summary


def resolve_model_path(model: str | Path) -> Path:
    """A model file path as given, or a published model's short name (``varma_strain_1``) looked up in the
    models directory (``$KINLATENT_MODELS_DIR``, default ../shared/models), or a built-in model's name
    (``ecoli_core``: built and written to the kinlatent cache directory, its state CSV beside it)."""
    from kinlatent.default_model import BUILTIN_MODELS, builtin_model_files
    from kinlatent.settings import model_file

    path = Path(model)
    if path.exists() or path.suffix in (".yml", ".yaml") or len(path.parts) > 1:
        return path
    published = model_file(str(model))
    if not published.is_file() and str(model) in BUILTIN_MODELS:
        return builtin_model_files(str(model))[0]
    return published


def _reduced_jacobian(compiled: CompiledRateLaws, concentrations: np.ndarray) -> torch.Tensor:
    from kinlatent.stability.jacobian import JacobianAssembler

    x = torch.as_tensor(concentrations).unsqueeze(0)
    params = compiled.parameter_vector()
    terms = compiled.unit_terms(x, params)
    slots = compiled.slot_elasticities(x, terms, compiled.vmax(params))
    return JacobianAssembler(compiled, compiled.model.conservation).reduced(slots)


def _count(items) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return dict(sorted(counts.items()))


def format_summary(summary: dict[str, Any]) -> str:
    """Human-readable text of :func:`inspect_model`'s result."""
    lines = [
        f"model {summary['model']} ({summary['file']})",
        f"  reactions {summary['n_reactions']}, ODE species {summary['n_species']}, boundary "
        f"{summary['n_boundary']}, conserved moieties {summary['n_conserved_moieties']}, independent "
        f"{summary['n_independent']}, Km in rate laws {summary['n_km']}",
        "  mechanisms: " + ", ".join(f"{k} {v}" for k, v in summary["mechanisms"].items()),
        "  modifiers: " + (", ".join(f"{k} {v}" for k, v in summary["modifiers"].items()) or "none"),
        "  conserved: " + "; ".join(" + ".join(m) for m in summary["conserved_moieties"]),
    ]
    if summary["steady_state_residual"] is None:
        lines.append("  " + summary.get("note", "no steady state"))
        return "\n".join(lines)
    tau = -1.0 / summary["lambda_max"] if summary["lambda_max"] < 0 else float("inf")
    lines += [
        f"  steady state from {summary['state_file']}: ||N v||/||v|| = {summary['steady_state_residual']:.3e}",
        f"  lambda_max = {summary['lambda_max']:.6g} 1/h (dominant time constant {tau * 60:.3g} min)",
        "  leading eigenvalues: " + ", ".join(f"{re:.4g}{im:+.4g}j" for re, im in summary["eigenvalues"]),
    ]
    return "\n".join(lines)
