"""Bad model files and state files give kinlatent errors that name the file and the key."""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import pytest
import yaml

from kinlatent.exceptions import (
    SteadyStateError,
    KinlatentError,
    MissingParameterError,
    ModelFormatError,
    NonFiniteValueError,
    StateFileError,
    UnsupportedMechanismError,
)
from kinlatent.model import load_model
from kinlatent.model.state import read_state
from kinlatent.ratelaws import SUPPORTED_MECHANISMS, SUPPORTED_MODIFIERS
from kinlatent.stability import find_steady_state


@pytest.fixture(scope="module")
def varma_dict(shared_models):
    with open(shared_models / "varma_strain_1.yml") as handle:
        return yaml.safe_load(handle)


def _write(tmp_path, data, name="model.yml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_malformed_yaml(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("reactions:\n  PGI: [unclosed\n  x: {\n")
    with pytest.raises(ModelFormatError, match="not valid YAML") as info:
        load_model(path)
    assert "broken.yml" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(ModelFormatError, match="not found"):
        load_model(tmp_path / "nope.yml")


def test_top_level_not_a_mapping(tmp_path):
    with pytest.raises(ModelFormatError, match="expected a mapping"):
        load_model(_write(tmp_path, [1, 2, 3]))


def test_reaction_names_missing_species(tmp_path, varma_dict):
    data = copy.deepcopy(varma_dict)
    data["reactions"]["PGI"]["mechanism"]["substrate"] = "unicorn_c"
    with pytest.raises(ModelFormatError) as info:
        load_model(_write(tmp_path, data))
    assert info.value.key == "reactions.PGI.mechanism.substrate"
    assert "unicorn_c" in str(info.value) and "model.yml" in str(info.value)


def test_unknown_mechanism_lists_supported(tmp_path, varma_dict):
    data = copy.deepcopy(varma_dict)
    data["reactions"]["PGI"]["mechanism"]["class"] = "OrderedBiBi"
    with pytest.raises(UnsupportedMechanismError) as info:
        load_model(_write(tmp_path, data))
    message = str(info.value)
    assert "OrderedBiBi" in message and "reactions.PGI.mechanism.class" in message
    assert all(name in message for name in SUPPORTED_MECHANISMS)


def test_unknown_modifier_lists_supported(tmp_path, varma_dict):
    data = copy.deepcopy(varma_dict)
    data["reactions"]["ACALD"]["modifiers"]["DSM_h_c"]["class"] = "AllostericMagic"
    with pytest.raises(UnsupportedMechanismError) as info:
        load_model(_write(tmp_path, data))
    assert all(name in str(info.value) for name in SUPPORTED_MODIFIERS)


def test_null_parameter_needed_for_steady_state(tmp_path, varma_dict, reference_csv):
    data = copy.deepcopy(varma_dict)
    data["parameters"]["km_substrate_PGI"] = None
    path = _write(tmp_path, data)
    model = load_model(path)  # structure still loads
    with pytest.raises(MissingParameterError) as info:
        find_steady_state(model, read_state(reference_csv, model))
    assert info.value.key == "km_substrate_PGI" and "model.yml" in str(info.value)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "fast"])
def test_non_finite_or_non_numeric_parameter(tmp_path, varma_dict, value):
    data = copy.deepcopy(varma_dict)
    data["parameters"]["km_substrate_PGI"] = value
    with pytest.raises(ModelFormatError if isinstance(value, str) else NonFiniteValueError) as info:
        load_model(_write(tmp_path, data))
    assert info.value.key == "parameters.km_substrate_PGI"


def test_negative_km_refused_when_used(tmp_path, varma_dict, reference_csv):
    data = copy.deepcopy(varma_dict)
    data["parameters"]["km_substrate_PGI"] = -3.0
    model = load_model(_write(tmp_path, data))
    with pytest.raises(NonFiniteValueError, match="must be > 0") as info:
        find_steady_state(model, read_state(reference_csv, model))
    assert info.value.key == "km_substrate_PGI"


def test_wrong_stoichiometry_sign(tmp_path, varma_dict):
    data = copy.deepcopy(varma_dict)
    data["reactions"]["ACALD"]["mechanism"]["mechanism_stoichiometry"] = {
        "product1": 1.0, "product2": 1.0, "substrate1": 1.0, "substrate2": -1.0, "substrate3": -1.0}
    with pytest.raises(ModelFormatError, match="wrong sign"):
        load_model(_write(tmp_path, data))


def test_hill_shape_mismatch(tmp_path, varma_dict):
    data = copy.deepcopy(varma_dict)
    del data["reactions"]["AKGDH"]["mechanism"]["product3"]
    del data["reactions"]["AKGDH"]["mechanism"]["mechanism_stoichiometry"]
    with pytest.raises(ModelFormatError, match="as many products as substrates"):
        load_model(_write(tmp_path, data))


MUTATIONS = {
    "reactions is a list": lambda d: d.__setitem__("reactions", ["PGI"]),
    "no reactants": lambda d: d.pop("reactants"),
    "reaction without mechanism": lambda d: d["reactions"]["PGI"].pop("mechanism"),
    "mechanism without class": lambda d: d["reactions"]["PGI"]["mechanism"].pop("class"),
    "modifiers is a string": lambda d: d["reactions"]["ACALD"].__setitem__("modifiers", "h_c"),
    "modifier without molecule": lambda d: d["reactions"]["ACALD"]["modifiers"]["DSM_h_c"].pop("small_molecule"),
    "stoichiometry not a number": lambda d: d["reactions"]["ACALD"]["mechanism"]["mechanism_stoichiometry"]
    .__setitem__("product1", "two"),
    "boundary to unknown species": lambda d: d["boundary_conditions"]["CC_ac_e"].__setitem__("reactant", "x"),
    "parameters is a list": lambda d: d.__setitem__("parameters", [1.0]),
    "reactant role without stoichiometry entry": lambda d: d["reactions"]["ACALD"]["mechanism"]
    .__setitem__("substrate9", "h_c"),
}


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_structural_damage_gives_kinlatent_errors(tmp_path, varma_dict, mutation):
    data = copy.deepcopy(varma_dict)
    MUTATIONS[mutation](data)
    path = _write(tmp_path, data)
    with pytest.raises(KinlatentError) as info:
        load_model(path)
    assert "model.yml" in str(info.value) and info.value.key


# ---- state files ------------------------------------------------------------------------------------------
def test_state_csv_missing_species(tmp_path, strain1, reference_csv):
    table = pd.read_csv(reference_csv)
    path = tmp_path / "tfa.csv"
    table.drop(columns=["LC_g6p_c"]).to_csv(path, index=False)
    with pytest.raises(StateFileError) as info:
        read_state(path, strain1)
    assert info.value.key == "g6p_c" and "tfa.csv" in str(info.value)


def test_plain_state_csv_missing_species(tmp_path, strain1):
    path = tmp_path / "plain.csv"
    pd.DataFrame({"species": ["g6p_c"], "concentration": [100.0]}).to_csv(path, index=False)
    with pytest.raises(StateFileError, match="have no concentration"):
        read_state(path, strain1)


@pytest.mark.parametrize("bad", ["inf", "nan", "-1", "abc"])
def test_state_csv_non_finite(tmp_path, strain1, steady1, bad):
    rows = [(s, c) for s, c in steady1.concentration_dict().items() if s in strain1.ode_species]
    table = pd.DataFrame(rows, columns=["species", "concentration"]).astype({"concentration": object})
    table.loc[table["species"] == "atp_c", "concentration"] = bad
    path = tmp_path / "plain.csv"
    table.to_csv(path, index=False)
    with pytest.raises(StateFileError) as info:
        read_state(path, strain1)
    assert info.value.key == "atp_c" and "plain.csv" in str(info.value)


def test_tfa_state_non_finite_log_concentration(tmp_path, strain1, reference_csv):
    table = pd.read_csv(reference_csv)
    table.loc[0, "LC_atp_c"] = math.inf
    path = tmp_path / "tfa.csv"
    table.to_csv(path, index=False)
    with pytest.raises(StateFileError) as info:
        read_state(path, strain1, row=0)
    assert info.value.key == "LC_atp_c"


def test_state_csv_unknown_layout_and_unknown_row(tmp_path, strain1, reference_csv):
    path = tmp_path / "weird.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(StateFileError, match="unrecognised layout"):
        read_state(path, strain1)
    with pytest.raises(StateFileError, match="no row labelled"):
        read_state(reference_csv, strain1, row="strain_9")
    with pytest.raises(StateFileError, match="not found"):
        read_state(tmp_path / "missing.csv", strain1)


# ---- regressions from the bad-input hunt --------------------------------------------------------------------
def test_duplicate_yaml_keys_are_refused(tmp_path, shared_models):
    text = (shared_models / "varma_strain_1.yml").read_text()
    path = tmp_path / "dup.yml"
    path.write_text(text.replace("  km_substrate_PGI:", "  km_substrate_PGI: 1.0\n  km_substrate_PGI:", 1))
    with pytest.raises(ModelFormatError, match="duplicate key 'km_substrate_PGI'"):
        load_model(path)


@pytest.mark.parametrize("where", ["mechanism", "boundary", "modifier"])
def test_lists_where_names_are_expected(tmp_path, varma_dict, where):
    data = copy.deepcopy(varma_dict)
    if where == "mechanism":
        data["reactions"]["PGI"]["mechanism"]["class"] = ["a", "b"]
    elif where == "boundary":
        data["boundary_conditions"]["CC_ac_e"]["reactant"] = ["ac_e"]
    else:
        data["reactions"]["ACALD"]["modifiers"]["DSM_h_c"]["class"] = {"a": 1}
    with pytest.raises(ModelFormatError):
        load_model(_write(tmp_path, data))


def test_numbers_written_without_a_dot_are_numbers(tmp_path, shared_models):
    text = (shared_models / "varma_strain_1.yml").read_text()
    path = tmp_path / "sci.yml"
    path.write_text(text.replace("  km_substrate_PGI: 2337.1195285464787", "  km_substrate_PGI: 2e3", 1))
    assert load_model(path).parameter("km_substrate_PGI") == 2000.0


def test_load_model_rejects_non_paths():
    for bad in (None, 5, {"a": 1}):
        with pytest.raises(ModelFormatError, match="expected a file path"):
            load_model(bad)


def test_plain_state_duplicates_and_unknown_species(tmp_path, strain1, steady1):
    rows = [(s, c) for s, c in steady1.concentration_dict().items() if s in strain1.ode_species]
    for extra, message in (([("nadh_c", 1.0)], "listed twice"), ([("unicorn_c", 1.0)], "not in model")):
        path = tmp_path / "plain.csv"
        pd.DataFrame(rows + extra, columns=["species", "concentration"]).to_csv(path, index=False)
        with pytest.raises(StateFileError, match=message):
            read_state(path, strain1)


def test_plain_state_accepts_pytfa_style_ids(tmp_path, strain1, steady1):
    rows = [(s.lstrip("_").replace("acon_C", "acon-C"), c) for s, c in steady1.concentration_dict().items()
            if s in strain1.ode_species]
    path = tmp_path / "plain.csv"
    pd.DataFrame(rows, columns=["species", "concentration"]).to_csv(path, index=False)
    state = read_state(path, strain1)
    assert state.concentrations["_13dpg_c"] == pytest.approx(steady1.concentration_dict()["_13dpg_c"])


def test_tfa_flux_cells_must_be_numbers(tmp_path, strain1, reference_csv):
    table = pd.read_csv(reference_csv).astype({"PGI": object})
    table.loc[0, "PGI"] = "abc"
    path = tmp_path / "tfa.csv"
    table.to_csv(path, index=False)
    with pytest.raises(StateFileError) as info:
        read_state(path, strain1, row=0)
    assert info.value.key == "PGI"


def test_steady_state_array_keeps_model_boundary_and_checks_shape(strain1, steady1):
    moved = steady1.concentrations.copy()
    moved[strain1.species_index["ac_e"]] *= 3.0
    result = find_steady_state(strain1, moved)
    assert result.concentrations[strain1.species_index["ac_e"]] == strain1.parameter("ac_e")
    with pytest.raises(SteadyStateError, match="shape"):
        find_steady_state(strain1, np.ones(3))


def test_absurd_initial_state_is_a_steady_state_error(strain1):
    with pytest.raises(SteadyStateError):
        find_steady_state(strain1, {s: 1e-300 for s in strain1.ode_species})
