"""Training sets on disk: Parquet shards written atomically, a JSON manifest, streaming readers.

Layout of a dataset directory::

    manifest.json              model/physiology hashes, sampler config, planned shards, status
    shards/shard-00000.parquet one row per parameter set: ln Km columns (SKiMpy names), lambda_max, status,
                               valid, label, row, seed, shard

ln Km columns hold natural logs of Km in µM (recorded in the Parquet schema metadata and the manifest).
"""
from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kinlatent.exceptions import ConfigError, KinlatentError

MANIFEST = "manifest.json"
SHARD_DIR = "shards"
META_COLUMNS = ("lambda_max", "status", "valid", "label", "row", "seed", "shard")
SCHEMA_VERSION = 1


class DatasetError(KinlatentError, ValueError):
    """A dataset directory is unreadable, incomplete or does not match the request."""


@dataclass(frozen=True)
class Shard:
    index: int
    start: int
    stop: int

    @property
    def rows(self) -> int:
        return self.stop - self.start

    @property
    def file_name(self) -> str:
        return f"shard-{self.index:05d}.parquet"


def plan_shards(n_samples: int, shard_size: int) -> list[Shard]:
    """Split rows 0..n−1 into consecutive shards of ``shard_size`` (the last may be shorter)."""
    return [Shard(i, start, min(start + shard_size, n_samples))
            for i, start in enumerate(range(0, n_samples, shard_size))]


def shard_table(km_names: Sequence[str], ln_km: np.ndarray, columns: dict[str, np.ndarray]) -> pa.Table:
    """Arrow table of one shard with the ln Km columns first and kinlatent metadata in the schema."""
    arrays = {name: ln_km[:, j] for j, name in enumerate(km_names)}
    arrays.update(columns)
    table = pa.table(arrays)
    metadata = {b"kinlatent.km_columns": json.dumps(list(km_names)).encode(),
                b"kinlatent.km_units": b"ln(Km / uM)"}
    return table.replace_schema_metadata(metadata)


def write_atomic_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary name beside ``path`` then rename: readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_shard(table: pa.Table, directory: Path, shard: Shard) -> Path:
    """Write a shard atomically (temp file + rename) and return its path."""
    target = directory / SHARD_DIR / shard.file_name
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{uuid.uuid4().hex}")
    pq.write_table(table, tmp)
    with open(tmp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)
    return target


def shard_is_complete(directory: Path, shard: Shard) -> bool:
    """A finished shard: its file exists and holds exactly the planned rows."""
    path = directory / SHARD_DIR / shard.file_name
    if not path.is_file():
        return False
    try:
        return pq.ParquetFile(path).metadata.num_rows == shard.rows
    except (pa.ArrowInvalid, OSError):
        return False


def write_manifest(directory: Path, manifest: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    write_atomic_bytes(directory / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())


def read_manifest(directory: str | Path) -> dict[str, Any]:
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise DatasetError("no manifest.json: not a kinlatent dataset directory", source=directory)
    try:
        manifest = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"manifest is not valid JSON: {error}", source=path) from error
    if not isinstance(manifest, dict):
        raise DatasetError("manifest is not a JSON object", source=path)
    return manifest


def check_resumable(directory: Path, identity: dict[str, Any]) -> dict[str, Any] | None:
    """The existing manifest when ``directory`` holds the same dataset (same identity), else None for an
    empty directory; a different dataset in the same place is refused, never overwritten."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError("output directory is an existing file", key="output.dir", source=directory)
    for name in (MANIFEST, SHARD_DIR):
        entry = directory / name
        if entry.exists() and (entry.is_dir() != (name == SHARD_DIR)):
            kind = "directory" if entry.is_dir() else "file"
            raise ConfigError(f"{name} in the output directory is a {kind}", key="output.dir", source=directory)
    if not (directory / MANIFEST).is_file():
        if (directory / SHARD_DIR).is_dir() and any((directory / SHARD_DIR).glob("*.parquet")):
            raise ConfigError("output directory holds shards but no manifest; choose another output.dir",
                              key="output.dir", source=directory)
        return None
    manifest = read_manifest(directory)
    previous = manifest.get("identity")
    if previous != identity:
        previous = previous if isinstance(previous, dict) else {}
        differing = sorted(k for k in set(previous) | set(identity) if previous.get(k) != identity.get(k))
        raise ConfigError(
            f"output directory holds a different dataset (differs in: {', '.join(differing)}); choose another "
            "output.dir or delete it", key="output.dir", source=directory,
        )
    return manifest


def shard_paths(directory: str | Path, require_complete: bool = True) -> list[Path]:
    manifest = read_manifest(directory)
    if require_complete and manifest.get("status") != "complete":
        raise DatasetError(f"dataset is incomplete (status {manifest.get('status')!r}): rerun the sampling job "
                           "with the same settings to resume it", source=directory)
    paths = [Path(directory) / SHARD_DIR / s["file"] for s in manifest["shards"]]
    missing = [p for p in paths if not p.is_file()]
    if missing:
        raise DatasetError(f"{len(missing)} shard file(s) missing, e.g. {missing[0].name}", source=directory)
    return paths


def iter_batches(directory: str | Path, columns: Sequence[str] | None = None,
                 batch_size: int = 65_536, require_complete: bool = True) -> Iterator[pd.DataFrame]:
    """Stream a dataset as DataFrames of at most ``batch_size`` rows (bounded memory)."""
    for path in shard_paths(directory, require_complete=require_complete):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=batch_size, columns=columns):
            yield batch.to_pandas()


def read_dataset(directory: str | Path, columns: Sequence[str] | None = None) -> pd.DataFrame:
    """The whole dataset as one DataFrame (for small sets and tests)."""
    frames = list(iter_batches(directory, columns=columns))
    if not frames:
        raise DatasetError("dataset has no rows", source=directory)
    return pd.concat(frames, ignore_index=True)


def km_columns(directory: str | Path) -> list[str]:
    return list(read_manifest(directory)["km_columns"])
