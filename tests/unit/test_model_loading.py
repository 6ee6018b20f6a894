"""Loading the published SKiMpy YAML files: structure, stoichiometry and conserved moieties."""
from __future__ import annotations

import numpy as np
import pytest

from kinlatent.model import load_model
from kinlatent.ratelaws import SUPPORTED_MECHANISMS, SUPPORTED_MODIFIERS


def test_varma_counts(strain1):
    assert strain1.n_reactions == 65
    assert len(strain1.ode_species) == 49
    assert len(strain1.boundary_species) == 15
    assert strain1.conservation.n_dependent == 6
    assert strain1.conservation.n_independent == 43
    assert strain1.stoichiometry.shape == (49, 65)


def test_conserved_moieties_are_the_published_pools(strain1):
    conservation = strain1.conservation
    # left null space: every relation annihilates N
    scale = np.abs(strain1.stoichiometry).max(axis=0)
    assert np.abs(conservation.moieties @ strain1.stoichiometry / scale).max() < 1e-9
    pools = {frozenset(m) for m in conservation.moiety_dicts()}
    expected = {
        frozenset({"accoa_c", "coa_c", "succoa_c"}),
        frozenset({"nadh_c", "nad_c"}),
        frozenset({"q8_c", "q8h2_c"}),
        frozenset({"nadph_c", "nadp_c"}),
    }
    assert expected <= pools
    # the two adenylate pools span {amp+atp+adp, ppi+atp+adp}
    span = np.array([[1.0 if s in ("amp_c", "atp_c", "adp_c") else 0.0 for s in strain1.ode_species],
                     [1.0 if s in ("ppi_c", "atp_c", "adp_c") else 0.0 for s in strain1.ode_species]])
    combined = np.vstack([conservation.moieties, span])
    assert np.linalg.matrix_rank(combined, tol=1e-8) == 6
    # the dependent species are the ones the file names
    assert {strain1.ode_species[i] for i in conservation.dependent} == set(strain1.dependent_hint)


def test_link_matrix_reproduces_stoichiometry(strain1):
    conservation = strain1.conservation
    n = strain1.stoichiometry
    reduced = n[list(conservation.independent)]
    assert np.allclose(conservation.link_matrix @ reduced, n, atol=1e-9 * np.abs(n).max())


@pytest.mark.parametrize("name", ["varma_strain_1.yml", "varma_strain_2.yml", "kin_varma.yml",
                                  "kin_varma_curated.yaml"])
def test_every_published_file_loads(shared_models, name):
    model = load_model(shared_models / name)
    assert {r.mechanism for r in model.reactions} <= set(SUPPORTED_MECHANISMS)
    assert {m.kind for r in model.reactions for m in r.modifiers} <= set(SUPPORTED_MODIFIERS)
    assert model.conservation.n_independent + model.conservation.n_dependent == len(model.ode_species)


def test_curated_model_structure(shared_models):
    model = load_model(shared_models / "kin_varma_curated.yaml")
    assert model.n_reactions == 123
    assert len(model.species) == 112
    assert "RevMassaction" in {r.mechanism for r in model.reactions}


def test_modifier_species_enter_the_balance(strain1):
    # ATPS4rpp: 3 h_c produced in the cytosol by the displacement modifier (SKiMpy semantics)
    j = strain1.reaction_names.index("ATPS4rpp")
    i = strain1.ode_species.index("h_c")
    assert strain1.stoichiometry[i, j] == pytest.approx(3.0)


def test_strain_files_differ_only_in_gapd_vmax(strain1, strain2):
    diff = {k for k in strain1.parameters if strain1.parameters[k] != strain2.parameters[k]}
    assert diff == {"vmax_forward_GAPD"}
    assert strain2.parameter("vmax_forward_GAPD") == pytest.approx(2 * strain1.parameter("vmax_forward_GAPD"))


def test_km_vector_excludes_unused_product_constants(strain1):
    names = strain1.km_parameter_names
    assert len(names) == len(set(names))
    assert "km_substrate1_ATPM" in names and "km_product1_ATPM" not in names  # irreversible: products unused
    assert all(n.startswith("km_") for n in names)
