"""Per-modality score calibration: a measured, optional safety net for mixed-modality rankings.

Why: one embedding space does not give every modality the same score scale. In a folder of generated
coloured circles, sine tones and six one-line notes, the text query "coffee" gave every circle
cosine 0.75 ± 0.01 and the first coffee note 0.64 (rank 21). The model is the real fix; until it
is, a query's scores are compared across modalities as z-scores of the scores queries usually give
rows of each candidate modality.

Design. For every (query modality q, candidate modality c) the index stores the mean and standard
deviation of cosine(probe, row) over

* probes of modality q: for text queries a fixed bank of 64 generic, varied English queries
  (``PROBES``, embedded with the index's own model and the instruction a search without a
  modality filter gets: the model's generic one, or none); for image, audio and video
  queries a seeded sample of at most ``PROBE_ROWS`` of the index's own rows of that modality used
  as queries (their stored vectors: a media query without instruction embeds like a candidate);
* rows of modality c: a seeded sample of at most ``SAMPLE_ROWS`` rows of the index;
* pairs of a probe with a row of its own file excluded (a file's windows and its whole recording are
  near-duplicates; real queries are rarely in the index).

and a pooled entry ``"*"`` over all candidate modalities (the fallback for a modality with too few
rows). A hit of modality c for a query of modality q gets ``(cosine - mean[q][c]) / std[q][c]``.
Composed queries (media + text, several media) are not calibrated: no probes of their kind exist,
and their embeddings are unlike their medium's (the demo's trouser image + "Change it into a
sneaker." scores the right image 0.30 and is first by raw cosine; z-scored with image-row probes,
which score images 0.71 with each other, it fell to rank 6).

The stats are stored in the sidecar with the model's weights hash (stats of other weights are never
applied) and the table version they saw: ``Index.add`` recomputes them whenever the table changed,
``Index.delete`` too. The cost is bounded whatever the table size: one scan of the modality and
asset columns, at most ``SAMPLE_ROWS`` vectors read per modality, and 64 probe texts embedded once
per model (cached beside the index as ``PROBE_FILE``).

Limits (measured with omniret-small, tests/index/test_mixed_folder.py): the stats remove the average
offset between modalities, not one query's own affinity for one kind of row. "coffee" scores the
generated circles 0.71 ± 0.03 where one-word probes score them 0.57 ± 0.07, so the best circle still
gets z ≈ +1.9, above a coffee note at 0.64; and a note the model misranks among notes stays misranked.
"""

from __future__ import annotations

import hashlib
import io
import warnings
import zipfile
from dataclasses import dataclass

import numpy as np

from omniret.index.store import Store

MODALITIES = ("image", "audio", "video", "text")  # every modality files.detect gives a row
MODES = ("auto", "on", "off")
PROBE_ROWS = 64  # media rows used as probe queries, per modality
SAMPLE_ROWS = 256  # candidate rows sampled per modality (the probes are the first PROBE_ROWS of them)
MIN_PAIRS = 2  # fewer (probe, row) pairs give no standard deviation
STD_FLOOR = 1e-3  # a modality whose rows all score alike must not get near-infinite z-scores
PROBE_FILE = "calibration_probes.npz"
SEED = 0

PROBES = (
    # single words, short phrases and sentences: users type all three, and the score scale moves with
    # query length (on 20 generated circles: one-word probes average cosine 0.57, sentences 0.45)
    "rain", "music", "mountains", "laughter", "bicycle", "piano", "forest", "traffic", "sunset", "football",
    "thunder", "kitchen", "ocean", "birthday", "engine", "garden",
    "red car", "city at night", "fresh fruit", "old photograph", "crowd cheering", "church bells",
    "snowy village", "guitar solo", "flat tire repair", "wedding dance", "leather boots", "monthly expenses",
    "train station", "children playing", "stormy sea", "office meeting",
    "a red sports car parked on the street", "rain falling on a tin roof", "a child playing the piano",
    "snow-covered mountains under a blue sky", "a recipe for pancakes", "someone laughing loudly",
    "birds singing early in the morning", "an old black and white photograph", "the history of the roman empire",
    "a man giving a speech", "waves crashing on rocks", "a bowl of fresh fruit", "how to fix a flat tire",
    "a pencil drawing of a flower", "a woman singing a song", "a plate of pasta with tomato sauce",
    "an airplane taking off", "a football match in a stadium", "a baby crying",
    "the agenda for next week's meeting", "the weather forecast for tomorrow", "a cartoon character",
    "a close-up of a smiling face", "a horse galloping across a field", "a telephone ringing",
    "a lecture about physics", "a map of europe", "a river flowing through a valley",
    "a spreadsheet of monthly expenses", "a short poem about love", "a news report about the election",
    "footsteps on a wooden floor",
)  # fmt: skip


# ------------------------------------------------------------------ computing and storing


def probe_key(weights_hash: str) -> str:
    """What the cached probe vectors depend on: the weights and the exact probe texts."""
    return hashlib.sha256((weights_hash + "\n" + "\n".join(PROBES)).encode()).hexdigest()[:16]


def recipe(seed: int = SEED) -> str:
    """What the stats depend on besides weights and rows: a changed bank or sample size recomputes them."""
    return hashlib.sha256(repr((PROBES, PROBE_ROWS, SAMPLE_ROWS, seed)).encode()).hexdigest()[:16]


def text_probes(store: Store, *, weights_hash: str, encode) -> np.ndarray:
    """The bank's embeddings: read from beside the index if made with these weights, else ``encode(PROBES)``
    (a model call) and saved, so ``Index.delete`` can recalibrate without loading the model."""
    key = probe_key(weights_hash)
    try:
        raw = store.location.read(PROBE_FILE)
    except OSError:
        raw = None
    if raw is not None:
        try:
            with np.load(io.BytesIO(raw)) as saved:
                if (
                    str(saved["key"]) == key
                    and saved["vectors"].ndim == 2
                    and len(saved["vectors"]) == len(PROBES)
                ):
                    return saved["vectors"].astype(np.float32)
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            pass  # a cache, not data: a truncated or corrupt file is recomputed and replaced
    vectors = np.asarray(encode(list(PROBES)), np.float32)
    out = io.BytesIO()
    np.savez(out, vectors=vectors, key=np.array(key))
    store.location.write(PROBE_FILE, out.getvalue())  # replaced atomically
    return vectors


def pair_stats(scores: np.ndarray, keep: np.ndarray) -> dict | None:
    """Mean and (population) standard deviation of the kept (probe, row) cosines."""
    vals = scores[keep]
    if vals.size < MIN_PAIRS:
        return None
    return {"mean": round(float(vals.mean()), 6), "std": round(float(vals.std()), 6), "pairs": int(vals.size)}


def sample_rows(
    table, *, seed: int = SEED
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], dict[str, int]]:
    """modality -> (vectors, asset ids) of a seeded sample of at most ``SAMPLE_ROWS`` rows (probes
    first), and the row count of every modality; only the sampled rows' vectors are read."""
    index = table.search().select(["modality", "asset_id"]).with_row_id(True).limit(None).to_arrow()
    mods = np.asarray(index["modality"].to_pylist(), dtype=object)
    ids = index["_rowid"].to_numpy()
    rng = np.random.default_rng(seed)
    out, counts = {}, {}
    for m in sorted(set(mods)):
        counts[m] = int((mods == m).sum())
        picks = rng.permutation(ids[mods == m])[:SAMPLE_ROWS]
        got = (
            table.take_row_ids([int(i) for i in picks])
            .select(["vector", "asset_id"])
            .with_row_id()
            .to_arrow()
        )
        at = {int(r): i for i, r in enumerate(got["_rowid"].to_pylist())}  # take returns row-id order
        order = [at[int(i)] for i in picks]
        vecs = np.asarray(got["vector"].to_pylist(), np.float32)[order]
        out[m] = (vecs, np.asarray(got["asset_id"].to_pylist(), dtype=object)[order])
    return out, counts


def compute_stats(
    probes: dict[str, tuple[np.ndarray, np.ndarray]], rows: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict:
    """query modality -> candidate modality (and "*") -> {mean, std, pairs}; the maths, no I/O.

    ``probes``/``rows``: modality -> (unit vectors (n, dim), asset ids (n,), None for probe texts)."""
    stats = {}
    for q, (pv, pa) in probes.items():
        per, pooled_s, pooled_k = {}, [], []
        for c, (cv, ca) in rows.items():
            scores = pv @ cv.T
            keep = np.asarray(pa, dtype=object)[:, None] != np.asarray(ca, dtype=object)[None, :]
            pooled_s.append(scores.ravel())
            pooled_k.append(keep.ravel())
            if (s := pair_stats(scores, keep)) is not None:
                per[c] = s
        if pooled_s and (s := pair_stats(np.concatenate(pooled_s), np.concatenate(pooled_k))) is not None:
            per["*"] = s
        if per:
            stats[q] = per
    return stats


def calibrate(store: Store, *, model_id: str, weights_hash: str, encode, seed: int = SEED) -> dict | None:
    """Compute the stats of the index as it is now and store them in the sidecar (None: empty index).
    ``encode(texts) -> vectors`` embeds the probe bank with the index's model, if not cached."""
    table = store.table()
    if table is None or table.count_rows() == 0:
        meta = store.sidecar()
        if "calibration" in meta:
            store.write_sidecar({k: v for k, v in meta.items() if k != "calibration"})
        return None
    rows, counts = sample_rows(table, seed=seed)
    probes = {m: (v[:PROBE_ROWS], a[:PROBE_ROWS]) for m, (v, a) in rows.items() if m != "text"}
    probes["text"] = (
        text_probes(store, weights_hash=weights_hash, encode=encode),
        np.full(len(PROBES), None),
    )
    cal = {
        "model_id": model_id,
        "weights_hash": weights_hash,
        "table_version": table.version,
        "seed": seed,
        "recipe": recipe(seed),
        "probes": {"text": len(PROBES), **{m: len(p[0]) for m, p in probes.items() if m != "text"}},
        "rows": counts,
        "stats": compute_stats(probes, rows),
    }
    store.write_sidecar({**store.sidecar(), "calibration": cal})
    return cal


def is_current(store: Store, *, weights_hash: str) -> bool:
    """Stats exist, were made with these weights and this recipe, and saw the table as it is."""
    cal = store.sidecar().get("calibration")
    table = store.table()
    if table is None:
        return cal is None
    return bool(cal) and (cal.get("weights_hash"), cal.get("recipe"), cal.get("table_version")) == (
        weights_hash, recipe(cal.get("seed", SEED)), table.version)  # fmt: skip


# ------------------------------------------------------------------ applying


@dataclass
class Calibration:
    """The stats one query's hits are z-scored with: candidate modality -> {mean, std}."""

    query: str  # the query modality whose probes made the stats
    stats: dict
    modalities: tuple[str, ...] = MODALITIES  # those the table holds: one query each

    def z(self, modality: str, score: float) -> float:
        s = self.stats.get(modality) or self.stats["*"]
        return (score - s["mean"]) / max(s["std"], STD_FLOOR)


def query_modality(modalities: tuple[str, ...]) -> str | None:
    """Text alone -> "text", one medium alone -> it; composed queries (media + text, several media) -> None."""
    return modalities[0] if len(modalities) == 1 else None


def choose(meta: dict, *, mode: str, query: tuple[str, ...], weights_hash: str, modalities: list[str] | None,
           table_version: int | None = None) -> tuple[Calibration | None, str]:  # fmt: skip
    """Whether this search ranks by calibrated score, and why (the status a search reports).

    ``off``: raw cosine. ``auto``: calibrated when stats of these weights exist and the index holds at
    least two modalities. ``on``: the stats must exist and be of these weights (else ValueError).
    Either way, a filter to one modality (a z-score is monotone within a modality) and queries the
    stats do not cover (composed, or of a modality the index has no rows of) rank by raw cosine.
    Each modality costs one query (a flat scan under exact search): only those the stats counted are
    searched if the table is still as they saw it (``table_version``), else all four."""
    if mode not in MODES:
        raise ValueError(f"calibration must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "off":
        return None, "off"
    if modalities and len(set(modalities)) == 1:
        return None, "off (one modality: raw cosine ranking)"
    cal = meta.get("calibration")
    missing = None
    if not cal or not cal.get("stats"):
        missing = "no calibration stats (run `omniret calibrate`)"
    elif cal.get("weights_hash") != weights_hash:
        missing = (f"calibration stats were computed with weights {cal.get('weights_hash')}, not {weights_hash}: "
                   "ignored (run `omniret calibrate`)")  # fmt: skip
        warnings.warn(missing, stacklevel=3)
    if missing:
        if mode == "on":
            raise ValueError(f"cannot calibrate this search: {missing}")
        return None, f"off ({missing})"
    q = query_modality(query)
    if q is None:
        return None, f"off (composed {'+'.join(query)} query: no probes of its kind)"
    if "*" not in (cal["stats"].get(q) or {}):  # no pooled entry: no fallback for an unsampled modality
        return None, f"off (no {q} rows to probe {q} queries with)"
    if mode == "auto" and len([m for m, n in cal.get("rows", {}).items() if n]) < 2:
        return None, "off (one modality in the index)"
    held = tuple(m for m in MODALITIES if cal.get("rows", {}).get(m))
    fresh = table_version is not None and cal.get("table_version") == table_version
    return Calibration(q, cal["stats"][q], held if fresh else MODALITIES), f"on ({q}-query stats)"


def summary(meta: dict) -> dict | None:
    """The sidecar's stats for ``omniret stats``, marked stale if made with other weights."""
    cal = meta.get("calibration")
    if not cal:
        return None
    return {"current": cal.get("weights_hash") == meta.get("weights_hash"), **cal}
