"""One LanceDB index for a whole mixed-media collection (needs the ``index`` extra: lancedb)."""

from __future__ import annotations

from pathlib import Path

from omniret.index import calibrate as calibration_stats
from omniret.index.indexer import BATCH_FILES, Indexer, IndexReport
from omniret.index.search import ANN_MIN_ROWS, SearchResult, search, search_vector
from omniret.index.store import IndexMismatchError, Store, quote
from omniret.inputs import OmniInput

__all__ = ["Index", "IndexMismatchError", "IndexReport", "SearchResult"]


class Index:
    """``Index(path).add(paths)`` and ``.search(query)``; the CLI calls exactly these."""

    def __init__(self, path: str | Path = "omniret-db", *, model=None) -> None:
        self.store = Store(path)
        self._model = model

    @property
    def model(self):
        if self._model is None or isinstance(self._model, str):
            import warnings

            from omniret.api import load_model

            spec = self._model or self.store.sidecar().get("model_id") or "omniret-small"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._model = load_model(spec)
        return self._model

    def add(self, paths, *, meta: dict | None = None, prune: bool = False, progress: bool = False,
            batch_files: int = BATCH_FILES, max_file_bytes: int | None = None, video_segments: str | None = None,
            log=None) -> IndexReport:  # fmt: skip
        """``video_segments``: "fixed" (10 s) or "shots"; None keeps the index's own (new: "fixed").
        The per-modality calibration stats are recomputed at the end whenever the table changed."""
        limits = {"max_file_bytes": max_file_bytes} if max_file_bytes else {}
        return Indexer(
            self.store, self.model, batch_files=batch_files, log=log, video_segments=video_segments, **limits
        ).add(list(paths), meta=meta, prune=prune, progress=progress)

    def search(self, query: OmniInput | str, *, k: int = 10, modalities: list[str] | None = None,
               where: str | None = None, group_by_asset: bool = False,
               calibration: str = "auto") -> SearchResult:  # fmt: skip
        """Hits keep the raw cosine as ``score``; ranked by ``calibrated_score`` when calibrated.
        ``calibration``: "auto" (when the index holds several modalities and has stats of this model),
        "on" (ValueError without such stats) or "off"; one-modality filters and composed queries rank
        by raw cosine either way (``index/calibrate.py``; ``SearchResult.calibration`` says which)."""
        if isinstance(query, str):
            query = OmniInput(text=query)
        if query.instruction is None:  # the model's own words for "find <modality>" / "find anything"
            from dataclasses import replace

            query = replace(
                query, instruction=self.default_instruction(modalities or _composed_target(query))
            )
        return search(self.store, self.model, query, k=k, modalities=modalities, where=where,
                      group_by_asset=group_by_asset, calibration=calibration)  # fmt: skip

    def default_instruction(self, modalities: list[str] | None) -> str | None:
        """The instruction the model was trained to use for a search over ``modalities`` (None: all).

        Models without ``query_instructions`` (v2, the baselines) get none, as before."""
        from omniret.instructions import default_instruction

        cfg = getattr(getattr(getattr(self.model, "model", None), "config", None), "query_instructions", None)
        return default_instruction(cfg, modalities) if cfg is not None else None

    def calibrate(self) -> dict | None:
        """(Re)compute the per-modality score statistics (for an index made before they existed)."""
        with self.store.writer():
            return self._calibrate()

    def _calibrate(self) -> dict | None:
        """The caller holds the writer lock. The model is only loaded if the probe bank is not cached."""
        meta = self.store.sidecar()
        if not meta.get("weights_hash"):
            return None
        return calibration_stats.calibrate(
            self.store, model_id=meta["model_id"], weights_hash=meta["weights_hash"],
            encode=lambda texts: self.model.encode([OmniInput(text=t, instruction=self.default_instruction(None))
                                                    for t in texts]),  # probes are asked like real searches
        )  # fmt: skip

    def delete(self, *, uri: str | None = None, where: str | None = None) -> int:
        table = self.store.table()
        if table is None:
            return 0
        clause = f"uri = {quote(str(Path(uri).resolve()))}" if uri else where
        if not clause:
            raise ValueError("delete needs uri= or where=")
        with self.store.writer():
            before = table.count_rows()
            table.delete(clause)
            removed = before - table.count_rows()
            if removed and self.store.sidecar().get("calibration"):
                self._calibrate()
            return removed

    def build_ann(self, *, target_recall: float = 0.95, force: bool = False) -> dict:
        from omniret.index.ann import build_ann

        table = self.store.table()
        n = 0 if table is None else table.count_rows()
        if n < ANN_MIN_ROWS and not force:
            return {"skipped": f"{n} rows: exact search is used below {ANN_MIN_ROWS} rows"}
        with self.store.writer():
            return build_ann(self.store, target_recall=target_recall)

    def stats(self) -> dict:
        table = self.store.table()
        meta = self.store.sidecar()
        if table is None:
            return {"rows": 0, **meta}
        cols = table.search().select(["modality", "uri"]).limit(None).to_arrow()
        mods = cols["modality"].to_pylist()
        by_mod = {m: mods.count(m) for m in sorted(set(mods))}
        ann = meta.get("ann")
        return {"path": str(self.store.path), "rows": table.count_rows(), "assets": len(set(cols["uri"].to_pylist())),
                "by_modality": by_mod, "model_id": meta.get("model_id"), "weights_hash": meta.get("weights_hash"),
                "recipe_hash": meta.get("recipe_hash"), "segmentation": meta.get("segmentation"),
                "index_mode": "ann" if ann else "exact",
                "ann_recall@10": ann.get("recall") if ann else None,
                "calibration": calibration_stats.summary(meta)}  # fmt: skip


__all__ += ["ANN_MIN_ROWS", "search_vector"]


def _composed_target(query: OmniInput) -> list[str] | None:
    """A composed query (one medium + a change request) asks for a changed item of that medium.

    That is how composed-retrieval tasks phrase it (FashionIQ, CIRR, the paper's CIR and ACM
    instructions: "retrieve the modified image"), so without a ``--modality`` filter it gets the
    target instruction of its medium; other queries search every modality.
    """
    media = [m for m in ("image", "audio", "video") if getattr(query, m) is not None]
    return media if len(media) == 1 and query.text else None
