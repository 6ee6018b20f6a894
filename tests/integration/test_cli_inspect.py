"""`kinlatent inspect` as a user runs it: the console script, JSON output, errors without tracebacks."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

KINLATENT = shutil.which("kinlatent") or f"{sys.executable} -m kinlatent.cli"


def _run(*args: str) -> subprocess.CompletedProcess:
    command = KINLATENT.split() + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_inspect_json_on_varma_strain_1(shared_models, strain1):
    result = _run("inspect", str(shared_models / "varma_strain_1.yml"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    for key in ("n_reactions", "n_species", "n_boundary", "n_independent", "n_km", "steady_state_residual",
                "lambda_max", "eigenvalues", "concentrations", "fluxes"):
        assert key in summary
    assert (summary["n_reactions"], summary["n_species"], summary["n_boundary"], summary["n_independent"]) == \
        (65, 49, 15, 43)
    assert summary["n_km"] == len(strain1.km_parameter_names)
    assert summary["steady_state_residual"] < 1e-9
    assert len(summary["eigenvalues"]) == 5
    assert summary["eigenvalues"][0][0] == pytest.approx(summary["lambda_max"])
    assert all(a[0] >= b[0] for a, b in zip(summary["eigenvalues"], summary["eigenvalues"][1:]))
    # the reported fluxes balance: ‖N v‖/‖v‖ recomputed from the JSON
    v = np.array([summary["fluxes"][r] for r in strain1.reaction_names])
    assert np.linalg.norm(strain1.stoichiometry @ v) / np.linalg.norm(v) < 1e-9
    assert set(summary["concentrations"]) == set(strain1.species)


def test_inspect_with_explicit_state_and_text_output(shared_models):
    result = _run("inspect", str(shared_models / "varma_strain_2.yml"), "--state",
                  str(shared_models / "tfa_reference_strains.csv"), "--row", "strain_2")
    assert result.returncode == 0, result.stderr
    assert "lambda_max" in result.stdout and "||N v||/||v||" in result.stdout


def test_inspect_structure_only_model(shared_models):
    result = _run("inspect", str(shared_models / "kin_varma_curated.yaml"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["n_reactions"] == 123 and summary["steady_state_residual"] is None
    assert "null" in summary["note"]


def test_inspect_bad_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text("reactions: [\n")
    result = _run("inspect", str(bad))
    assert result.returncode == 2
    assert "bad.yml" in result.stderr and "Traceback" not in result.stderr


def test_inspect_by_published_name(shared_models, monkeypatch):
    monkeypatch.setenv("KINLATENT_MODELS_DIR", str(shared_models))
    result = _run("inspect", "varma_strain_1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_independent"] == 43


def test_inspect_parameterized_model_with_a_hole_is_an_error(shared_models, tmp_path):
    text = (shared_models / "varma_strain_1.yml").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("  km_substrate_PGI:")]
    damaged = tmp_path / "holey.yml"
    damaged.write_text("\n".join(lines) + "\n")
    result = _run("inspect", str(damaged), "--state", str(shared_models / "tfa_reference_strains.csv"))
    assert result.returncode == 2
    assert "km_substrate_PGI" in result.stderr and "absent" in result.stderr
