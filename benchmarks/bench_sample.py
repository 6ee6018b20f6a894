"""End-to-end sampling + validation throughput with 1 and 2 Ray workers on varma_strain_1, and the driver's
peak memory (shards are streamed, never gathered).

Run: python benchmarks/bench_sample.py [--rows 100000] [--memory-rows 1000000]
"""
from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import ray

from kinlatent.hydra_app import compose_config
from kinlatent.pipelines.sample import run_sample


def _run(rows: int, workers: int, out: Path, shard_size: int) -> tuple[float, float]:
    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=workers, include_dashboard=False, configure_logging=False)
    cfg = compose_config("sample", [f"sampler.n_samples={rows}", f"sampler.shard_size={shard_size}",
                                    f"output.dir={out}", "tracking=none", "progress=false"])
    started = time.perf_counter()
    result = run_sample(cfg)
    return result.models_per_s, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)  # the acceptance job size: worker start-up amortised
    parser.add_argument("--shard-size", type=int, default=2_500)
    parser.add_argument("--memory-rows", type=int, default=0, help="also sample this many rows for peak memory")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="kinlatent-bench-"))
    try:
        rates = {}
        for workers in (1, 2):
            rate, wall = _run(args.rows, workers, scratch / f"w{workers}", args.shard_size)
            rates[workers] = rate
            print(f"{workers} worker(s): {rate:,.0f} models/s end to end ({rate / workers:,.0f} models/s/core), "
                  f"job wall time {wall:.1f} s for {args.rows:,} rows")
        print(f"speed-up 2 vs 1 workers: {rates[2] / rates[1]:.2f}x")
        if args.memory_rows:
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            rate, wall = _run(args.memory_rows, 2, scratch / "big", 10_000)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            size = sum(p.stat().st_size for p in (scratch / "big").rglob("*.parquet")) / 2**30
            print(f"{args.memory_rows:,} rows: {rate:,.0f} models/s, {wall:.0f} s, {size:.2f} GiB of Parquet; driver "
                  f"peak RSS {peak:,.0f} MiB (before this run {before:,.0f} MiB)")
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
