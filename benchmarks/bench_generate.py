"""Generation throughput: 1,000,000 parameter sets generated and streamed to Parquet on CPU, for the
RENAISSANCE-size and REKINDLE-size generators, against the dense-matmul FLOP rate torch reaches on this
machine for the same layer shapes (same run); plus generate + validate throughput in models/s.

Run: python benchmarks/bench_generate.py [--sets 1000000] [--batch 65536]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from kinlatent.generators import GeneratorSpec, MLPGenerator, generate_ln_km
from kinlatent.generators.bounds import saturation_bounds
from kinlatent.physiology import load_physiology
from kinlatent.settings import model_file

SIZES = {
    "RENAISSANCE (latent 99, 256-512-1024)": dict(latent_dim=99, widths=(256, 512, 1024), normalisation="none",
                                                   dropout=0.0, n_conditions=0),
    "REKINDLE (latent 127+2, 128-256-512)": dict(latent_dim=127, widths=(128, 256, 512), normalisation="batch",
                                                 dropout=0.5, n_conditions=2),
}


def layer_shapes(spec: GeneratorSpec) -> list[tuple[int, int]]:
    dims = [spec.latent_dim + spec.n_conditions, *spec.widths, spec.n_outputs]
    return list(zip(dims[:-1], dims[1:]))


def matmul_rate(shapes: list[tuple[int, int]], batch: int, repeats: int = 5) -> float:
    """FLOP/s of plain torch.mm (float32) over the generator's layer shapes."""
    inputs = [torch.randn(batch, a) for a, _ in shapes]
    weights = [torch.randn(a, b) for a, b in shapes]
    for x, w in zip(inputs, weights):
        torch.mm(x, w)
    started = time.perf_counter()
    for _ in range(repeats):
        for x, w in zip(inputs, weights):
            torch.mm(x, w)
    elapsed = time.perf_counter() - started
    return repeats * sum(2 * batch * a * b for a, b in shapes) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sets", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=16_384)
    parser.add_argument("--validate", type=int, default=20_000, help="sets for generate + validate throughput")
    args = parser.parse_args()
    physiology = load_physiology(model_file("varma_strain_1"))
    names = physiology.model.km_parameter_names
    lower, upper = saturation_bounds(physiology, names)
    oracle = physiology.oracle()
    scratch = Path(tempfile.mkdtemp(prefix="kinlatent-gen-"))
    print(f"torch threads: {torch.get_num_threads()}, sets: {args.sets:,}, batch {args.batch:,}, outputs {len(names)}")
    try:
        for label, kwargs in SIZES.items():
            spec = GeneratorSpec(n_outputs=len(names), **kwargs)
            generator = MLPGenerator(spec, lower, upper).eval()
            flops_per_set = sum(2 * a * b for a, b in layer_shapes(spec))
            reference = matmul_rate(layer_shapes(spec), args.batch)
            condition = 1 if spec.n_conditions else None
            started = time.perf_counter()
            for _ in generate_ln_km(generator, args.sets, seed=0, batch_size=args.batch, condition=condition):
                pass
            generate_only = time.perf_counter() - started
            rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            path = scratch / "generated.parquet"
            started = time.perf_counter()
            writer = None
            for batch in generate_ln_km(generator, args.sets, seed=0, batch_size=args.batch, condition=condition):
                table = pa.table({n: batch[:, j].numpy() for j, n in enumerate(names)})
                writer = writer or pq.ParquetWriter(path, table.schema)
                writer.write_table(table)
            writer.close()
            with_parquet = time.perf_counter() - started
            rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            achieved = flops_per_set * args.sets / generate_only
            print(f"{label}: {flops_per_set / 1e6:.2f} MFLOP/set; generation {generate_only:.1f} s "
                  f"({args.sets / generate_only:,.0f} sets/s, {achieved / 1e9:.1f} GFLOP/s = "
                  f"{achieved / reference:.0%} of plain matmul {reference / 1e9:.1f} GFLOP/s); streamed to Parquet "
                  f"{with_parquet:.1f} s ({path.stat().st_size / 2**30:.2f} GiB); peak RSS {rss_after:,.0f} MiB "
                  f"(before {rss_before:,.0f} MiB)")
            path.unlink()
            started = time.perf_counter()
            valid = 0
            for batch in generate_ln_km(generator, args.validate, seed=1, batch_size=4096, condition=condition):
                lam = oracle.lambda_max(batch).numpy()
                valid += int((lam < -2.5).sum())
            elapsed = time.perf_counter() - started
            print(f"  generate + validate: {args.validate / elapsed:,.0f} models/s "
                  f"(untrained weights, {valid / args.validate:.1%} with lambda_max < -2.5)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
