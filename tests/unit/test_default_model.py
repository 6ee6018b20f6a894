"""The embedded default model (E. coli core from cobra, synthetic thermodynamic state): no ../shared needed."""
from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from kinlatent.default_model import (
    MODEL_NAME, build_default_model, builtin_model_files, default_physiology, write_default_model,
)
from kinlatent.exceptions import ConfigError, StateFileError
from kinlatent.model import load_model
from kinlatent.model.state import read_state, state_vector
from kinlatent.physiology import load_physiology
from kinlatent.ratelaws.compiled import CompiledRateLaws
from kinlatent.sampling.saturation import SaturationSampler
from kinlatent.stability import find_steady_state

FLUX_FACTOR = 1e-3 * 0.3 * 1200.0 * 1e6  # mmol/gDW/h → µM/h (models/README.md)


@pytest.fixture(scope="module")
def built():
    return build_default_model(0)


@pytest.fixture(scope="module")
def cobra_textbook():
    cobra = pytest.importorskip("cobra")
    model = cobra.io.load_model("textbook")
    return model, cobra.flux_analysis.pfba(model)


def _kinetic_id(cobra_id: str) -> str:
    name = cobra_id.replace("__", "_")
    return "_" + name if name[0].isdigit() else name


def _params(model):
    compiled = CompiledRateLaws(model)
    return compiled, compiled.parameter_vector()


def _rates(model, concentrations):
    compiled, params = _params(model)
    return compiled.rates(torch.as_tensor(concentrations).unsqueeze(0), params)[0].numpy()


# ---- (a) fluxes: pFBA, and N v = 0 from cobra's own stoichiometry ------------------------------------------------
def test_fluxes_are_pfba_and_balance_cobra_stoichiometry(built, cobra_textbook):
    cobra_model, solution = cobra_textbook
    model, physiology = built.model, built.physiology
    v = dict(zip(model.reaction_names, physiology.fluxes))
    for name, flux in v.items():
        assert flux == pytest.approx(solution.fluxes[name] * FLUX_FACTOR, rel=1e-9, abs=1e-6)
    # every cobra reaction left out is an exchange, carries no flux, or moves only protons/water
    for reaction in cobra_model.reactions:
        if reaction.id not in v:
            only_h = {m.id for m in reaction.metabolites} <= {"h_c", "h_e", "h2o_c", "h2o_e"}
            assert reaction.boundary or abs(solution.fluxes[reaction.id]) < 1e-9 or only_h, reaction.id
    ode = set(model.ode_species)
    checked = 0
    for metabolite in cobra_model.metabolites:
        species = _kinetic_id(metabolite.id)
        if species not in ode:
            continue
        terms = [c * v[r.id] for r, c in ((r, r.metabolites[metabolite]) for r in metabolite.reactions) if r.id in v]
        assert abs(sum(terms)) <= 1e-9 * max(abs(t) for t in terms), species
        checked += 1
    assert checked == len(ode)


# ---- (b) thermodynamics and rate laws at the reference state ------------------------------------------------------
def test_displacements_agree_with_flux_directions(built):
    model, physiology = built.model, built.physiology
    x = dict(zip(model.species, physiology.concentrations))
    for reaction, flux in zip(model.reactions, physiology.fluxes):
        assert flux != 0.0
        name = reaction.parameter("k_equilibrium")
        if name not in model.parameters:
            assert reaction.mechanism == "IrrevMichaelisMenten" and flux > 0, reaction.name
            continue
        log_q = sum(c * math.log(x[s]) for s, c in reaction.stoichiometry().items())
        gamma = math.exp(log_q) / model.parameter(name)
        assert gamma != pytest.approx(1.0, rel=1e-6)
        assert (gamma < 1.0) == (flux > 0), reaction.name
        assert gamma == pytest.approx(built.thermodynamics.displacements[reaction.name], rel=1e-9)


def test_rate_laws_reproduce_fluxes(built):
    model, physiology = built.model, built.physiology
    v = _rates(model, physiology.concentrations)
    np.testing.assert_allclose(v, physiology.fluxes, rtol=1e-9)


def _hand_rate(model, reaction, x) -> float:
    """RATE_LAWS.md in plain numpy, independent of kinlatent.ratelaws."""
    p = model.parameter
    vmax = p(reaction.parameter("vmax_forward"))
    if reaction.mechanism == "ReversibleMichaelisMenten":
        s, q = x[reaction.substrates[0].species], x[reaction.products[0].species]
        ks, kp = p(reaction.parameter("km_substrate")), p(reaction.parameter("km_product"))
        return vmax / ks * (s - q / p(reaction.parameter("k_equilibrium"))) / (1 + s / ks + q / kp)
    if reaction.mechanism == "IrrevMichaelisMenten":
        return vmax * np.prod([x[s.species] / (x[s.species] + p(reaction.parameter(s.km_parameter_base)))
                               for s in reaction.substrates])
    assert reaction.mechanism == "Convenience"
    sub = [(x[s.species], p(reaction.parameter(s.km_parameter_base)), -s.stoichiometry) for s in reaction.substrates]
    pro = [(x[s.species], p(reaction.parameter(s.km_parameter_base)), s.stoichiometry) for s in reaction.products]
    keq = p(reaction.parameter("k_equilibrium"))
    d = np.prod([sum((c / k) ** a for a in range(int(n) + 1)) for c, k, n in sub]) \
        + np.prod([sum((c / k) ** b for b in range(int(n) + 1)) for c, k, n in pro]) - 1
    forward = vmax * np.prod([(c / k) ** n for c, k, n in sub]) / d
    backward = vmax / keq * np.prod([k ** -n for _, k, n in sub]) * np.prod([c ** n for c, _, n in pro]) / d
    return forward - backward


def test_hand_written_rate_laws(built):
    model, physiology = built.model, built.physiology
    x = dict(zip(model.species, physiology.concentrations))
    v = dict(zip(model.reaction_names, physiology.fluxes))
    kinds = {r.mechanism for r in model.reactions}
    assert kinds == {"ReversibleMichaelisMenten", "Convenience", "IrrevMichaelisMenten"}
    for reaction in model.reactions:  # every reaction, incl. CYTBD (o2 stoichiometry 0.5) and the biomass
        assert _hand_rate(model, reaction, x) == pytest.approx(v[reaction.name], rel=1e-9), reaction.name
    by_name = {r.name: r for r in model.reactions}
    assert by_name["PGI"].mechanism == "ReversibleMichaelisMenten"
    assert by_name["GAPD"].mechanism == "Convenience"
    assert by_name["Biomass_Ecoli_core"].mechanism == by_name["ATPM"].mechanism == "IrrevMichaelisMenten"


# ---- (c) ORACLE around the physiology --------------------------------------------------------------------------
def test_oracle_samples_have_finite_lambda_max(built):
    physiology = default_physiology(0)
    assert physiology is built.physiology
    ln_km = SaturationSampler(physiology).sample(0, 1000, seed=0)
    result = physiology.oracle().evaluate(torch.as_tensor(ln_km))
    lam = result.lambda_max.numpy()
    assert np.isfinite(lam).all()
    assert bool(result.consistent.all())
    fraction = float((lam < -2.5).mean())
    print(f"\n{MODEL_NAME}: {fraction:.1%} of 1000 ORACLE samples have lambda_max < -2.5 1/h "
          f"(median {np.median(lam):.3g} 1/h)")
    assert fraction > 0.2


# ---- steady state and stability of the reference parameter set -------------------------------------------------
def test_reference_parameterisation_is_a_stable_steady_state(built, tmp_path):
    model, physiology = built.model, built.physiology
    _, state_path = write_default_model(tmp_path)
    steady = find_steady_state(model, read_state(state_path, model))
    assert steady.residual < 1e-11
    np.testing.assert_allclose(steady.concentrations, physiology.concentrations, rtol=1e-8)
    np.testing.assert_allclose(steady.fluxes, physiology.fluxes, rtol=1e-8)
    oracle = physiology.oracle()
    lam = float(oracle.lambda_max(oracle.km_vector())[0])
    assert lam < 0
    assert lam == pytest.approx(built.reference.lambda_max, rel=1e-9)
    if built.reference.draw < 0:  # all saturations 0.5: Km = x* of the bound reactant
        assert set(built.reference.saturations.values()) == {0.5}


# ---- (d) YAML and state CSV round trip -------------------------------------------------------------------------
def test_yaml_round_trip(built, tmp_path):
    yaml_path, state_path = write_default_model(tmp_path)
    assert yaml_path.read_text() == built.yaml_text
    loaded = load_model(yaml_path)
    model = built.model
    assert loaded.fingerprint() == model.fingerprint()
    assert dict(loaded.parameters) == dict(model.parameters)
    assert loaded.species == model.species and loaded.boundary_species == model.boundary_species
    np.testing.assert_array_equal(loaded.stoichiometry, model.stoichiometry)
    state = read_state(state_path, loaded)
    x = state_vector(state, loaded)
    np.testing.assert_array_equal(x, built.physiology.concentrations)
    np.testing.assert_array_equal([state.fluxes[r] for r in loaded.reaction_names], built.physiology.fluxes)
    np.testing.assert_array_equal(_rates(loaded, x), _rates(model, built.physiology.concentrations))
    physiology = load_physiology(yaml_path, find_steady=False)  # the state CSV beside the model is found
    assert physiology.fingerprint == built.physiology.fingerprint


def test_state_csv_flux_columns_are_checked(built, tmp_path):
    _, state_path = write_default_model(tmp_path)
    text = state_path.read_text()
    for bad, message in (("ATPM", "listed twice"), ("NOPE", "not in model")):
        broken = tmp_path / f"broken_{bad}.csv"
        broken.write_text(text + f",,{bad},1.0\n")
        with pytest.raises(StateFileError, match=message):
            read_state(broken, built.model)
    broken = tmp_path / "nan.csv"
    broken.write_text(text.replace(",,PGI,", ",,PGI,x", 1))
    with pytest.raises(StateFileError, match="not a number"):
        read_state(broken, built.model)


# ---- (e) determinism -----------------------------------------------------------------------------------------------
def test_same_seed_same_bytes_in_a_fresh_process(built, tmp_path):
    code = "import sys; from kinlatent.default_model import write_default_model; write_default_model(sys.argv[1])"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True, timeout=120)
    assert (tmp_path / f"{MODEL_NAME}.yml").read_text() == built.yaml_text
    mine = tmp_path / "here"
    write_default_model(mine)
    assert (mine / f"{MODEL_NAME}_state.csv").read_bytes() == (tmp_path / f"{MODEL_NAME}_state.csv").read_bytes()


def test_other_seed_other_state(built):
    other = build_default_model(1)
    assert other.yaml_text != built.yaml_text
    assert other.model.reaction_names == built.model.reaction_names
    np.testing.assert_array_equal(other.physiology.fluxes, built.physiology.fluxes)
    assert other.reference.lambda_max < 0
    with pytest.raises(ConfigError):
        build_default_model(-1)


# ---- (f) conserved moieties --------------------------------------------------------------------------------------
def test_conserved_moieties_match_left_null_space(built):
    model = built.model
    n = model.stoichiometry
    expected = scipy.linalg.null_space(n.T).shape[1]
    conservation = model.conservation
    assert conservation.n_dependent == expected == 5
    assert np.abs(conservation.moieties @ n).max() < 1e-9 * np.abs(n).max()
    pools = {frozenset(m) for m in conservation.moiety_dicts()}
    assert {frozenset({"nad_c", "nadh_c"}), frozenset({"nadp_c", "nadph_c"}), frozenset({"q8_c", "q8h2_c"}),
            frozenset({"adp_c", "atp_c"}), frozenset({"accoa_c", "coa_c", "succoa_c"})} == pools


# ---- structure ---------------------------------------------------------------------------------------------------
def test_structure(built):
    model = built.model
    assert model.name == MODEL_NAME
    assert (model.n_reactions, len(model.ode_species), len(model.boundary_species)) == (40, 42, 5)
    assert set(model.boundary_species) == {"co2_e", "glc_D_e", "nh4_e", "o2_e", "pi_e"}
    assert not any(r.startswith("EX_") for r in model.reaction_names)
    assert not {"h_c", "h_e", "h2o_c", "h2o_e"} & set(model.species)
    assert built.network.thermodynamic_cycles == 0
    x = built.physiology.concentrations
    assert ((x >= 1.0) & (x <= 1e4)).all()


def test_irreversible_michaelis_menten_policy():
    variant = build_default_model(0, irreversible="michaelis_menten")
    irreversible = {r.name for r in variant.network.reactions if not r.reversible}
    mechanisms = {r.name: r.mechanism for r in variant.model.reactions}
    assert irreversible and all(mechanisms[name] == "IrrevMichaelisMenten" for name in irreversible)
    assert variant.reference.lambda_max < 0  # a redrawn, stable saturation set
    with pytest.raises(ConfigError, match="valid"):
        build_default_model(0, irreversible="sometimes")


# ---- entry points: Hydra config and `kinlatent inspect ecoli_core` --------------------------------------------------
def test_hydra_model_config_builds_the_builtin(built, tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from kinlatent.hydra_app import compose_config
    from kinlatent.pipelines.sample import parse_settings

    monkeypatch.setenv("KINLATENT_CACHE_DIR", str(tmp_path / "cache"))
    cfg = compose_config("sample", ["model=ecoli_core", f"output.dir={tmp_path / 'out'}"])
    container = OmegaConf.to_container(cfg, resolve=True)
    settings = parse_settings(container)
    assert settings.model_path.parent.parent.parent == tmp_path / "cache"
    assert settings.model_path.read_text() == built.yaml_text
    assert settings.steady_state is False
    physiology = load_physiology(settings.model_path, settings.state_path, settings.state_row, find_steady=False)
    assert physiology.fingerprint == built.physiology.fingerprint


def test_inspect_resolves_the_builtin_name(built, tmp_path, monkeypatch):
    from kinlatent.pipelines.inspect_model import inspect_model

    monkeypatch.setenv("KINLATENT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("KINLATENT_MODELS_DIR", str(tmp_path / "no-models"))
    summary = inspect_model(MODEL_NAME)
    assert Path(summary["file"]) == builtin_model_files(MODEL_NAME)[0]
    assert summary["n_conserved_moieties"] == 5
    assert summary["lambda_max"] == pytest.approx(built.reference.lambda_max, rel=1e-6)
    assert summary["steady_state_residual"] < 1e-11
