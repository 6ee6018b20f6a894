"""Throughput of ln Km → λmax on varma_strain_1 (one thread): batched kinlatent vs a naive per-set loop.

Prints models/s/core for (vmax + Jacobian + eigenvalues), the eigenvalues-only floor, the naive per-set
loop (dense numpy per set) and the setup times. Run: python benchmarks/bench_validate.py [--batch 10000]
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from kinlatent.model import load_model  # noqa: E402
from kinlatent.model.state import read_state, reference_state_file, state_vector  # noqa: E402
from kinlatent.settings import model_file  # noqa: E402
from kinlatent.stability import OracleStability  # noqa: E402


def oracle_ln_km(oracle: OracleStability, batch: int, seed: int) -> torch.Tensor:
    """ORACLE-style ln Km: saturation σ ~ U(0, 1) per Km, Km = x·(1 − σ)/σ for the Km's own species."""
    model = oracle.model
    species_of = {}
    for reaction in model.reactions:
        for slot in reaction.slots:
            species_of[reaction.parameter(slot.km_parameter_base)] = model.species_index[slot.species]
    x = oracle.concentrations[0, [species_of[n] for n in oracle.km_names]]
    sigma = torch.rand(batch, oracle.n_km, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    sigma = sigma.clamp(1e-9, 1 - 1e-9)
    return torch.log(x * (1 - sigma) / sigma)


def naive_lambda_max(oracle: OracleStability, ln_km: torch.Tensor) -> np.ndarray:
    """One set at a time: dense ∂v/∂x, J_r = N_r·E·L in numpy, numpy eigvals."""
    model = oracle.model
    conservation = model.conservation
    reduced_n = model.stoichiometry[list(conservation.independent)]
    link = conservation.link_matrix
    ode = [model.species_index[s] for s in model.ode_species]
    out = np.empty(ln_km.shape[0])
    for i in range(ln_km.shape[0]):
        params = oracle.parameters(ln_km[i:i + 1])
        params[:, oracle.compiled.vmax_index] = oracle.vmax(ln_km[i:i + 1])
        elasticity = oracle.compiled.elasticities(oracle.concentrations, params)[0].numpy()[:, ode]
        out[i] = np.linalg.eigvals(reduced_n @ elasticity @ link).real.max()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--naive", type=int, default=500, help="sets for the naive loop (rate extrapolated)")
    parser.add_argument("--chunk", type=int, default=2048)
    args = parser.parse_args()
    torch.set_num_threads(1)

    path = model_file("varma_strain_1")
    t0 = time.perf_counter()
    model = load_model(path)
    t_load = time.perf_counter() - t0
    state = read_state(reference_state_file(path), model)
    x = state_vector(state, model)
    v = np.array([state.fluxes[r] for r in model.reaction_names])
    t0 = time.perf_counter()
    oracle = OracleStability(model, x, v)
    t_setup = time.perf_counter() - t0

    ln_km = oracle_ln_km(oracle, args.batch, seed=0)
    oracle.lambda_max(ln_km[:64])  # warm-up
    t0 = time.perf_counter()
    result = oracle.evaluate(ln_km, chunk_size=args.chunk)
    t_full = time.perf_counter() - t0

    jacobians = torch.cat([oracle.reduced_jacobian(ln_km[i:i + args.chunk])
                           for i in range(0, args.batch, args.chunk)])
    t0 = time.perf_counter()
    for i in range(0, args.batch, args.chunk):
        torch.linalg.eigvals(jacobians[i:i + args.chunk])
    t_eig = time.perf_counter() - t0

    n_naive = min(args.naive, args.batch)
    t0 = time.perf_counter()
    naive = naive_lambda_max(oracle, ln_km[:n_naive])
    t_naive = time.perf_counter() - t0
    # ‖J_r‖ reaches ~1e11 1/h: LAPACK's backward error makes λmax near 0 accurate to ~1e-6 1/h absolute
    max_difference = float(np.abs(naive - result.lambda_max[:n_naive].numpy()).max())

    lam = result.lambda_max.numpy()
    print(f"model varma_strain_1: n_km={oracle.n_km}, J_r {oracle.assembler.n_independent}x"
          f"{oracle.assembler.n_independent}, batch B={args.batch}, torch threads={torch.get_num_threads()}")
    print(f"setup: load YAML {t_load:.3f} s, compile rate laws + Jacobian maps {t_setup:.3f} s")
    print(f"batched vmax + Jacobian + eigenvalues: {args.batch / t_full:,.0f} models/s/core ({t_full:.2f} s)")
    print(f"eigenvalues only (floor):              {args.batch / t_eig:,.0f} models/s/core")
    print(f"naive per-set loop (dense numpy):      {n_naive / t_naive:,.0f} models/s/core "
          f"(on {n_naive} sets; max |lambda_max difference| vs batched {max_difference:.1e} 1/h)")
    print(f"speed-up batched / naive:              {(args.batch / t_full) / (n_naive / t_naive):.1f}x")
    print(f"fraction with lambda_max < -2.5 1/h: {(lam < -2.5).mean():.3f}; < -9 1/h: {(lam < -9).mean():.3f}; "
          f"consistent vmax: {result.consistent.float().mean().item():.3f}")


if __name__ == "__main__":
    main()
