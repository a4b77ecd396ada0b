"""The LanceDB table behind an index, and its sidecar (model, recipes, ANN settings)."""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from pathlib import Path

from omniret.errors import InputError

TABLE = "segments"
SIDECAR = "omniret.json"


class IndexMismatchError(InputError):
    """The index was built with another model or preprocessing recipe."""


def schema(dim: int):
    import pyarrow as pa

    return pa.schema([
        ("asset_id", pa.string()), ("segment_id", pa.string()), ("uri", pa.string()), ("modality", pa.string()),
        ("t0", pa.float64()), ("t1", pa.float64()), ("content_hash", pa.string()), ("model_id", pa.string()),
        ("weights_hash", pa.string()), ("recipe_hash", pa.string()), ("meta", pa.string()), ("text", pa.string()),
        ("vector", pa.list_(pa.float32(), dim)), ("keyframe", pa.binary()),
    ])  # fmt: skip


class Store:
    def __init__(self, path: str | Path) -> None:
        # LanceDB's Rust logger warns thousands of times while building an IVF index on 1M rows
        # ("visited_generator_queue is full", empty k-means clusters): errors only, unless the user set it.
        os.environ.setdefault("LANCEDB_LOG", "error")
        import lancedb

        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.db = lancedb.connect(str(self.path))

    # ------------------------------------------------------------------ sidecar

    def sidecar(self) -> dict:
        f = self.path / SIDECAR
        return json.loads(f.read_text()) if f.is_file() else {}

    def write_sidecar(self, data: dict) -> None:
        tmp = self.path / f".{SIDECAR}.tmp"
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path / SIDECAR)

    def check_model(self, model_id: str, weights_hash: str, recipe_hash: str, dim: int) -> None:
        """Refuse to mix vectors of different models or recipes in one index."""
        meta = self.sidecar()
        want = {"model_id": model_id, "weights_hash": weights_hash, "recipe_hash": recipe_hash, "dim": dim}
        if not meta.get("model_id"):
            self.write_sidecar({**meta, **want})
            return
        diff = [k for k in want if meta.get(k) != want[k]]
        if diff:
            raise IndexMismatchError(
                f"{self.path} was built with model {meta['model_id']} (weights {meta.get('weights_hash')}, "
                f"recipe {meta.get('recipe_hash')}); this run uses {model_id} (weights {weights_hash}, recipe "
                f"{recipe_hash}). Use another --db or re-index everything with one model."
            )

    def check_segmentation(self, wanted: dict | None) -> dict:
        """The index's decomposition recipe: the stored one (indexes before it was recorded cut videos
        at fixed 10 s), or ``wanted`` for a new index; a different explicit one is refused."""
        from omniret.index.decompose import segmentation

        meta = self.sidecar()
        stored = meta.get("segmentation") or (segmentation() if meta.get("model_id") else None)
        if stored is not None and wanted is not None and wanted != stored:
            raise IndexMismatchError(
                f"{self.path} cuts videos into {stored['video']} segments, not {wanted['video']}; "
                "use another --db to index with a different segmentation"
            )
        chosen = stored or wanted or segmentation()
        if meta.get("segmentation") != chosen:
            self.write_sidecar({**self.sidecar(), "segmentation": chosen})
        return chosen

    # ------------------------------------------------------------------ table

    def table(self, dim: int | None = None):
        """The index table; ``dim`` given (a writer) creates it, or adds the columns an older one lacks."""
        if TABLE in self.db.list_tables().tables:
            table = self.db.open_table(TABLE)
            missing = [f for f in schema(dim) if f.name not in table.schema.names] if dim is not None else []
            if missing:  # columns added since the index was made (e.g. keyframe): all null for older rows
                table.add_columns(missing)
            return table
        if dim is None:
            return None
        return self.db.create_table(TABLE, schema=schema(dim))

    @contextmanager
    def writer(self):
        """Single writer: an exclusive lock on the index directory for the whole job."""
        with (self.path / ".lock").open("w") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RuntimeError(f"another omniret process is writing to {self.path}") from None
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


def quote(value: str) -> str:
    """A SQL string literal."""
    return "'" + value.replace("'", "''") + "'"
