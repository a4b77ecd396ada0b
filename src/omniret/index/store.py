"""The LanceDB table behind an index, and its sidecar (model, recipes, ANN settings).

Reads never create anything: a missing index directory is refused (``IndexNotFoundError``); only
writers (``writer()``, ``write_sidecar``, ``table(dim)``) make it. One writer at a time holds an
``flock`` on ``.lock`` (its pid is written into the file); a second one waits up to the lock timeout
(``OMNIRET_LOCK_TIMEOUT``, default 10 s) and is then refused with ``BusyError``. Readers need no
lock: every LanceDB commit is one atomic manifest swap and the sidecar is replaced atomically, so a
reader sees either the state before a commit or after it.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from omniret.errors import InputError
from omniret.extras import require
from omniret.index.decompose import segmentation
from omniret.index.location import LOCK_TIMEOUT_ENV, IndexNotFoundError, locate

__all__ = ["IndexMismatchError", "IndexNotFoundError", "SidecarError", "Store", "lock_timeout", "schema"]

TABLE = "segments"
SIDECAR = "omniret.json"
DEFAULT_LOCK_TIMEOUT = 10.0  # seconds a second writer waits for the lock before it is refused


class IndexMismatchError(InputError):
    """The index was built with another model or preprocessing recipe."""


class SidecarError(InputError):
    """The index's ``omniret.json`` cannot be read or does not hold what an index writes there."""


def schema(dim: int):
    """The index table's columns. ``uri`` is always valid UTF-8: a file name that is not is shown with
    its undecodable bytes as ``\\xNN`` (``index.files.display``), and ``path_bytes`` holds the exact
    bytes of the path (``os.fsencode``), so such files are found, re-indexed and pruned by their real name.

    ``path_bytes`` came after ``keyframe``. An index made before it still opens and is searched as is;
    the first writer adds it as an all-null column (``Store.table(dim)`` adds any column an older table
    lacks), and a null ``path_bytes`` means the path is ``os.fsencode(uri)`` (older rows were only ever
    written for UTF-8 names). The indexer also leaves the column out of new rows if a table lacks it.

    ``page`` (a document's page, 1-based), ``speech`` (what is said in an audio window or video moment,
    with ``speech_lang`` and ``speech_source``: "asr" or "subtitles") and ``keywords`` (the words a row is
    found by, ``keyword.py``) came later still, the same way; older rows' keywords are filled in from
    their name, text and metadata when the full-text index is first built."""
    import pyarrow as pa

    return pa.schema([
        ("asset_id", pa.string()), ("segment_id", pa.string()), ("uri", pa.string()), ("modality", pa.string()),
        ("t0", pa.float64()), ("t1", pa.float64()), ("content_hash", pa.string()), ("model_id", pa.string()),
        ("weights_hash", pa.string()), ("recipe_hash", pa.string()), ("meta", pa.string()), ("text", pa.string()),
        ("vector", pa.list_(pa.float32(), dim)), ("keyframe", pa.binary()), ("path_bytes", pa.binary()),
        ("page", pa.int32()), ("speech", pa.string()), ("speech_lang", pa.string()), ("speech_source", pa.string()),
        ("keywords", pa.string()),
    ])  # fmt: skip


class Store:
    def __init__(self, path: str | Path, *, lock_timeout: float | None = None,
                 storage_options: dict | None = None) -> None:  # fmt: skip
        """``path``: a directory, or an object-store URI (``s3://bucket/idx``) read and written with
        ``storage_options`` (``location.py``)."""
        # LanceDB's Rust logger warns thousands of times while building an IVF index on 1M rows
        # ("visited_generator_queue is full", empty k-means clusters): errors only, unless the user set it.
        os.environ.setdefault("LANCEDB_LOG", "error")
        self.location = locate(path, storage_options)
        self.path = self.location.path  # a Path, or the URI of an index in a bucket
        self.lock_timeout = lock_timeout  # None: $OMNIRET_LOCK_TIMEOUT, else DEFAULT_LOCK_TIMEOUT
        self._db = None
        self._locked = 0  # writer() depth in this process: re-entering it must not wait for itself

    # ------------------------------------------------------------------ existence

    def exists(self) -> bool:
        return self.location.exists()

    def require(self) -> None:
        """Refuse a read of an index that is not there (reads never create one)."""
        self.location.require()

    def create(self) -> None:
        """Make the index directory (writers only)."""
        self.location.create()

    @property
    def local_path(self) -> Path | None:
        """The index directory, or None for an index in a bucket (nothing local to leave out of a scan)."""
        return self.path if isinstance(self.path, Path) else None

    @property
    def db(self):
        """The LanceDB connection (``lancedb.connect`` would create the directory: only once it exists)."""
        if self._db is None:
            self.require()
            require("index")  # a missing LanceDB is one line naming the pip extra
            import lancedb

            self._db = lancedb.connect(self.location.uri, storage_options=self.location.storage_options)
        return self._db

    # ------------------------------------------------------------------ sidecar

    def sidecar(self) -> dict:
        """The sidecar's settings ({} if there is none). A corrupt one is refused, never overwritten: every
        writer reads it before writing it back."""
        f = f"{self.path}/{SIDECAR}"
        try:
            raw = self.location.read(SIDECAR)
        except OSError as err:
            raise SidecarError(f"{f}: cannot read the index sidecar: {err.strerror or err}") from None
        if raw is None:
            return {}
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise SidecarError(f"{f}: corrupt index sidecar: expected UTF-8 JSON, found undecodable bytes "
                               f"({len(raw)} bytes); restore it or re-index into a new --db") from None  # fmt: skip
        except json.JSONDecodeError as err:
            found = (f"invalid JSON ({err.msg} at line {err.lineno} column {err.colno})" if raw.strip()
                     else "an empty file")  # fmt: skip
            raise SidecarError(f"{f}: corrupt index sidecar: expected a JSON object, found {found}; "
                               "restore it or re-index into a new --db") from None  # fmt: skip
        problem = check_sidecar(data)
        if problem:
            raise SidecarError(
                f"{f}: corrupt index sidecar: {problem}; restore it or re-index into a new --db"
            )
        return data

    def write_sidecar(self, data: dict) -> None:
        self.location.write(SIDECAR, json.dumps(data, indent=1).encode())

    def check_model(self, model_id: str, weights_hash: str, recipe_hash: str, dim: int,
                    source: str | None = None) -> None:  # fmt: skip
        """Refuse to mix vectors of different models or recipes in one index. ``source``: the checkpoint
        directory or YAML the model came from, recorded so that searches find it again by itself."""
        meta = self.sidecar()
        want = {"model_id": model_id, "weights_hash": weights_hash, "recipe_hash": recipe_hash, "dim": dim}
        if not meta.get("model_id"):
            self.write_sidecar({**meta, **want, **({"model_source": source} if source else {})})
            return
        diff = [k for k in want if meta.get(k) != want[k]]
        if not diff and source and meta.get("model_source") != source:
            self.write_sidecar({**meta, "model_source": source})
        if diff:
            raise IndexMismatchError(
                f"{self.path} was built with model {meta['model_id']} (weights {meta.get('weights_hash')}, "
                f"recipe {meta.get('recipe_hash')}); this run uses {model_id} (weights {weights_hash}, recipe "
                f"{recipe_hash}). Use another --db or re-index everything with one model."
            )

    @staticmethod
    def purge(table) -> None:
        """Compact and drop every older table version: LanceDB keeps the data of deleted rows in old
        versions (for time travel) until they are cleaned up, so without this a deleted passage or
        keyframe would still be on disk. Writers only (the caller holds the lock)."""
        with warnings.catch_warnings():  # LanceDB warns that readers of an older version fail: intended
            warnings.simplefilter(
                "ignore", UserWarning
            )  # (docs/SECURITY.md: a search at that moment retries)
            table.optimize(cleanup_older_than=timedelta(0))

    def record_access(self, boundary) -> None:
        """Keep the job's roots and link choices in ``omniret.json`` (``index.roots.Boundary.record``)."""
        meta = self.sidecar()
        access = boundary.record(meta.get("access"))
        if meta.get("access") != access:
            self.write_sidecar({**meta, "access": access})

    def check_segmentation(self, wanted: dict | None) -> dict:
        """The index's decomposition recipe: the stored one (indexes before it was recorded cut videos
        at fixed 10 s), or ``wanted`` for a new index; a different explicit one is refused."""

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
        """The index table; ``dim`` given (a writer) creates it, or adds the columns an older one lacks.
        A reader (no ``dim``) of a directory that does not exist gets None, and nothing is created."""
        if dim is None and not self.exists():
            return None
        if dim is not None:
            self.create()
        if TABLE in self.db.list_tables().tables:
            try:
                table = self.db.open_table(TABLE)
            except ValueError:  # listed while a writer is still creating it: no version committed yet
                if dim is None:
                    return None
                raise
            missing = [f for f in schema(dim) if f.name not in table.schema.names] if dim is not None else []
            if missing:  # columns added since the index was made (e.g. keyframe): all null for older rows
                table.add_columns(missing)
            return table
        if dim is None:
            return None
        return self.db.create_table(TABLE, schema=schema(dim))

    @contextmanager
    def writer(self, timeout: float | None = None):
        """Single writer: an exclusive lock on the index for the whole job (an ``flock`` in a directory,
        a renewed lease in a bucket: ``location.py``).

        A second writer polls for up to ``timeout`` seconds (None: the store's ``lock_timeout``, else
        $OMNIRET_LOCK_TIMEOUT, else 10 s; ``inf`` waits for ever) and is then refused with ``BusyError``
        naming the holder, whose pid, host and start time it writes into the lock. Re-entrant within one
        ``Store``. The kernel drops an ``flock`` when its holder dies, so a killed writer leaves no stale
        lock (only its stale note, overwritten by the next holder); a bucket's lease expires."""
        if self._locked:
            self._locked += 1
            try:
                yield
            finally:
                self._locked -= 1
            return
        wait = lock_timeout(self.lock_timeout if timeout is None else timeout)
        with self.location.hold(wait):
            self._locked = 1
            try:
                self.sidecar()  # a corrupt sidecar stops every writer before it changes anything
                yield
            finally:
                self._locked = 0


def lock_timeout(value: float | str | None = None) -> float:
    """Seconds a second writer waits: ``value``, else $OMNIRET_LOCK_TIMEOUT, else 10; >= 0, inf allowed."""
    name = "lock timeout"
    if value is None:
        value, name = os.environ.get(LOCK_TIMEOUT_ENV) or DEFAULT_LOCK_TIMEOUT, LOCK_TIMEOUT_ENV
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number of seconds, not {value!r}") from None
    if math.isnan(seconds) or seconds < 0:
        raise InputError(f"{name} must be a number of seconds >= 0 (inf: wait for ever), not {value!r}")
    return seconds


# ------------------------------------------------------------------ sidecar contents

_TEXT_KEYS = ("model_id", "weights_hash", "recipe_hash", "model_source")


def check_sidecar(data) -> str | None:
    """What is wrong with a parsed sidecar, as 'expected ..., found ...' (None: nothing). Checks the keys
    the code reads and their types; unknown keys are kept as they are. A null value means "absent"."""
    if not isinstance(data, dict):
        return f"expected a JSON object, found {_kind(data)}"
    for key in _TEXT_KEYS:
        if data.get(key) is not None and not isinstance(data[key], str):
            return f"expected '{key}' to be a string, found {_kind(data[key])}"
    dim = data.get("dim")
    if dim is not None and not (_is_int(dim) and dim > 0):
        return f"expected 'dim' to be a positive integer, found {_kind(dim)}"
    for key in ("segmentation", "ann", "calibration", "access", "keywords", "speech"):
        if data.get(key) is not None and not isinstance(data[key], dict):
            return f"expected '{key}' to be an object, found {_kind(data[key])}"
    seg = data.get("segmentation")
    if seg and not isinstance(seg.get("video"), str):
        return f"expected 'segmentation.video' to be a string, found {_kind(seg.get('video'))}"
    ann = data.get("ann")
    if ann:
        for key in ("nprobes", "refine_factor"):
            if not (_is_int(ann.get(key)) and ann[key] >= 1):
                return f"expected 'ann.{key}' to be an integer >= 1, found {_kind(ann.get(key))}"
        if not _is_number(ann.get("recall")):
            return f"expected 'ann.recall' to be a number, found {_kind(ann.get('recall'))}"
    access = data.get("access")
    if access:
        roots = access.get("roots")
        if not (isinstance(roots, list) and all(isinstance(r, str) for r in roots)):
            return f"expected 'access.roots' to be a list of paths, found {_kind(roots)}"
        for key in ("follow_links", "allow_outside_roots"):
            if not isinstance(access.get(key), bool):
                return f"expected 'access.{key}' to be true or false, found {_kind(access.get(key))}"
    cal = data.get("calibration")
    if cal:
        return _check_calibration(cal)
    return None


def _check_calibration(cal: dict) -> str | None:
    for key in ("model_id", "weights_hash", "recipe"):
        if cal.get(key) is not None and not isinstance(cal[key], str):
            return f"expected 'calibration.{key}' to be a string, found {_kind(cal[key])}"
    for key in ("table_version", "seed"):
        if cal.get(key) is not None and not _is_int(cal[key]):
            return f"expected 'calibration.{key}' to be an integer, found {_kind(cal[key])}"
    for key in ("rows", "probes"):
        counts = cal.get(key)
        if counts is None:
            continue
        if not isinstance(counts, dict) or not all(_is_int(n) for n in counts.values()):
            return f"expected 'calibration.{key}' to map modalities to integers, found {_kind(counts)}"
    stats = cal.get("stats")
    if stats is None:
        return None
    if not isinstance(stats, dict):
        return f"expected 'calibration.stats' to be an object, found {_kind(stats)}"
    for q, per in stats.items():
        if not isinstance(per, dict):
            return f"expected 'calibration.stats.{q}' to be an object, found {_kind(per)}"
        for c, s in per.items():
            if not (isinstance(s, dict) and _is_number(s.get("mean")) and _is_number(s.get("std"))):
                return (f"expected 'calibration.stats.{q}.{c}' to be an object with numbers 'mean' and 'std', "
                        f"found {_kind(s)}")  # fmt: skip
    return None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _kind(v) -> str:
    """A found value for a message: its JSON type and a short rendering."""
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}  # fmt: skip
    shown = json.dumps(v)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    return f"{names.get(type(v), type(v).__name__)} ({shown})" if v is not None else "null"
