"""Steady states of the two Varma strains; user-given states; failure is an error, not a wrong answer."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kinlatent.exceptions import SteadyStateError
from kinlatent.model.state import read_state, state_vector
from kinlatent.stability import find_steady_state, relative_residual


def _independent_residual(model, concentrations, fluxes):
    return np.linalg.norm(model.stoichiometry @ fluxes) / np.linalg.norm(fluxes)


def test_strain1_steady_state(strain1, steady1, reference_state):
    assert steady1.residual < 1e-9
    assert _independent_residual(strain1, steady1.concentrations, steady1.fluxes) < 1e-9
    # the published state is that model's steady state
    x0 = state_vector(reference_state, strain1)
    assert np.allclose(steady1.concentrations, x0, rtol=1e-6)


def test_strain2_steady_state_differs(strain2, steady1, steady2):
    assert steady2.residual < 1e-9
    assert _independent_residual(strain2, steady2.concentrations, steady2.fluxes) < 1e-9
    assert relative_residual(strain2, steady2.concentrations) < 1e-9
    # GAPD vmax doubled: concentrations and fluxes move measurably
    relative_change = np.abs(steady2.concentrations / steady1.concentrations - 1.0)
    assert relative_change.max() > 0.1
    gapd = strain2.reaction_names.index("GAPD")
    assert abs(steady2.fluxes[gapd] / steady1.fluxes[gapd] - 1.0) > 0.01
    # moiety totals are conserved from the initial (reference) state
    m = strain2.conservation.moieties
    ode = [strain2.species_index[s] for s in strain2.ode_species]
    assert np.allclose(m @ steady2.concentrations[ode], m @ steady1.concentrations[ode], rtol=1e-6)


def test_user_given_state_csv(strain2, steady2, tmp_path):
    # start strain 2 from its own steady state perturbed by 20 %, written as a plain species/concentration CSV
    conc = steady2.concentration_dict()
    rows = [(s, conc[s] * (1.2 if i % 2 else 0.8)) for i, s in enumerate(strain2.ode_species)]
    path = tmp_path / "state.csv"
    pd.DataFrame(rows, columns=["species", "concentration"]).to_csv(path, index=False)
    state = read_state(path, strain2)
    steady = find_steady_state(strain2, state)
    assert steady.residual < 1e-9


def test_non_convergence_is_an_error(strain2, reference_csv):
    state = read_state(reference_csv, strain2)
    with pytest.raises(SteadyStateError, match="no steady state reached") as info:
        find_steady_state(strain2, state, t_max=1e-3)
    assert "varma_strain_2.yml" in str(info.value)


def test_time_limit_turns_a_runaway_integration_into_an_error(strain1, steady1):
    """PFK vmax × 1e12: BDF crawls for many minutes; with a wall-clock limit it is a clear error in seconds."""
    import time

    perturbed = strain1.with_parameters({"vmax_forward_PFK": strain1.parameter("vmax_forward_PFK") * 1e12})
    started = time.perf_counter()
    with pytest.raises(SteadyStateError, match="within the time limit"):
        find_steady_state(perturbed, steady1.concentrations, max_seconds=3.0)
    assert time.perf_counter() - started < 30
