"""One LanceDB index for a whole mixed-media collection (needs the ``index`` extra: lancedb)."""

from __future__ import annotations

import time
from pathlib import Path

from omniret.errors import InputError
from omniret.index import calibrate as calibration_stats
from omniret.index.ann import build_ann, check_target
from omniret.index.files import display
from omniret.index.filters import FilterError, check_filter, filter_problem, quote
from omniret.index.indexer import BATCH_FILES, Indexer, IndexReport
from omniret.index.objects import Source
from omniret.index.ray_engine import RayIndexer, distributed_ann
from omniret.index.rerank import check_top, require_rerank
from omniret.index.rerank import rerank as rerank_hits
from omniret.index.search import (
    ANN_MIN_ROWS,
    SEARCH_MODES,
    SearchResult,
    check_options,
    check_words,
    search,
    search_vector,
)
from omniret.index.store import SIDECAR, IndexMismatchError, IndexNotFoundError, SidecarError, Store
from omniret.inputs import OmniInput
from omniret.inputs.modality import MEDIA_NAMES
from omniret.instructions import default_instruction
from omniret.models import RetrievalModel, load_model

__all__ = ["FilterError", "Index", "IndexMismatchError", "IndexNotFoundError", "IndexReport", "SearchResult",
           "SidecarError"]  # fmt: skip


class Index:
    """``Index(path).add(paths)`` and ``.search(query)``; the CLI calls exactly these.

    Only ``add`` creates the index directory; ``search``, ``stats``, ``delete`` and ``calibrate`` of a
    missing one raise ``IndexNotFoundError``. Writers (``add``, ``delete``, ``calibrate``, ``build_ann``)
    wait up to ``lock_timeout`` seconds (None: $OMNIRET_LOCK_TIMEOUT, else 10) for another writer to
    finish, then raise ``BusyError``."""

    def __init__(
        self,
        path: str | Path = "omniret-db",
        *,
        model=None,
        lock_timeout: float | None = None,
        verify: bool = True,
        storage_options: dict | None = None,
    ) -> None:
        """``path``: a directory, or an object-store URI (``s3://bucket/idx``) reached with
        ``storage_options`` (Lance's keys), which are also the default for object-store inputs of ``add``."""
        self.store = Store(path, lock_timeout=lock_timeout, storage_options=storage_options)
        self._storage = dict(storage_options or {})
        self._model, self._verify = model, verify  # verify: check the weights hash when loading by name
        self._spec = str(model) if isinstance(model, (str, Path)) else None  # what Ray actors load
        self._given_object = model is not None and self._spec is None

    @property
    def model(self):
        if self._model is None or isinstance(self._model, str):
            import warnings

            meta = self.store.sidecar()  # a checkpoint directory is found again by its recorded path
            spec = self._model or meta.get("model_source") or meta.get("model_id") or "omniret-small"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = load_model(spec, verify=self._verify)
            if not isinstance(model, RetrievalModel):
                raise InputError(f"model {spec!r} cannot embed (it only ranks evaluation pools): "
                                 "index and search need an encoding model (`omniret models`)")  # fmt: skip
            self._model = model
        return self._model

    def add(self, paths, *, meta: dict | None = None, prune: bool = False, progress: bool = False,
            batch_files: int = BATCH_FILES, max_file_bytes: int | None = None, video_segments: str | None = None,
            follow_links: bool = False, allow_outside_roots: bool = False, log=None,
            on_progress=None, transcripts: str = "auto", engine: str = "embedded", address: str | None = None,
            actors: int = 1, cpus_per_actor: float = 1.0, gpus_per_actor: float | None = None,
            storage_options: dict | None = None) -> IndexReport:  # fmt: skip
        """``video_segments``: "fixed" (10 s) or "shots"; None keeps the index's own (new: "fixed").
        The per-modality calibration stats are recomputed at the end whenever the table changed.
        Nothing outside the roots ``paths`` is read unless ``follow_links`` and ``allow_outside_roots``
        (docs/SECURITY.md). ``on_progress(done, total)`` is called with files finished of files to index.
        ``transcripts``: "auto" (the index's setting; a new index transcribes speech when the model has a
        Whisper tower), "on" or "off" (``index/annotate.py``); sidecar subtitles are used either way.
        ``engine="ray"``: files are decoded and embedded by ``actors`` Ray actors (the cluster at ``address``,
        else a local one), committed here as always (``index/ray_engine.py``); the model must then be
        given by name or path, which every actor loads. ``paths`` may instead be object-store URIs
        (``s3://bucket/prefix``, gs://, az://) read with ``storage_options`` (Lance's keys, e.g.
        ``aws_endpoint``, ``aws_region``, ``allow_http``; the AWS_* variables work too; ``index/objects.py``)."""
        limits = {"max_file_bytes": max_file_bytes} if max_file_bytes else {}
        spec = self._model
        source = str(Path(spec).resolve()) if isinstance(spec, (str, Path)) and Path(spec).exists() else None
        common = dict(batch_files=batch_files, log=log, video_segments=video_segments, model_source=source,
                      on_progress=on_progress, transcripts=transcripts, source=Source({**self._storage, **(storage_options or {})}),
                      **limits)  # fmt: skip
        if engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
        if engine == "ray":
            if self._given_object:
                raise InputError("the Ray engine loads the model in every actor: give it by name or path "
                                 "(Index(db, model='omniret-small' or a checkpoint directory)), not as an object")  # fmt: skip
            name = self._spec or str(self.store.sidecar().get("model_source") or self.model.model_id)
            indexer = RayIndexer(self.store, self.model, spec=name, verify=self._verify, address=address,
                                 actors=actors, cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor,
                                 **common)  # fmt: skip
        else:
            indexer = Indexer(self.store, self.model, **common)
        return indexer.add(list(paths), meta=meta, prune=prune, progress=progress, follow_links=follow_links,
              allow_outside_roots=allow_outside_roots)  # fmt: skip

    def search(self, query: OmniInput | str, *, k: int = 10, modalities: list[str] | None = None,
               where: str | None = None, group_by_asset: bool = False, calibration: str = "auto",
               mode: str = "dense", rerank: int | None = None) -> SearchResult:  # fmt: skip
        """Hits keep the raw cosine as ``score``; ranked by ``calibrated_score`` when calibrated.
        ``calibration``: "auto" (when the index holds several modalities and has stats of this model),
        "on" (ValueError without such stats) or "off"; one-modality filters and composed queries rank
        by raw cosine either way (``index/calibrate.py``; ``SearchResult.calibration`` says which).
        ``k`` above the row count returns every row; ``k`` < 1, an unknown modality or a malformed
        ``where`` raise ``InputError`` (before the model is loaded). ``mode``: "dense" (vectors), "keyword"
        (BM25 over the rows' words: file names, passages, transcripts, subtitles, metadata; no model is
        loaded) or "hybrid" (both, fused by reciprocal rank; ``SearchResult.ranking`` records how).
        ``rerank=N``: the first stage's top N are re-scored by late interaction (``index/rerank.py``; an
        OmniRet model only), then the top ``k`` of them returned."""
        k, modalities, where = check_options(k, modalities, where)
        self.require()
        if isinstance(query, str):
            query = OmniInput(text=query)
        check_words(mode, query.text)
        first = k if rerank is None else max(k, check_top(rerank))
        if rerank is not None:
            require_rerank(self.model)
        if mode == "keyword" and rerank is None:
            return search(self.store, None, query, k=k, modalities=modalities, where=where,
                          group_by_asset=group_by_asset, mode=mode)  # fmt: skip
        if query.instruction is None:  # the model's own words for "find <modality>" / "find anything"
            from dataclasses import replace

            query = replace(
                query, instruction=self.default_instruction(modalities or _composed_target(query))
            )
        result = search(self.store, self.model, query, k=first, modalities=modalities, where=where,
                        group_by_asset=group_by_asset, calibration=calibration, mode=mode)  # fmt: skip
        if rerank is not None:
            start = time.perf_counter()
            result.hits = rerank_hits(self.model, query, result.hits, top=rerank)[:k]
            result.seconds += time.perf_counter() - start
            result.ranking = {**result.ranking, "rerank": {"method": "maxsim", "top": rerank,
                                                           "tokens": "composer final hidden states"}}  # fmt: skip
        return result

    def default_instruction(self, modalities: list[str] | None) -> str | None:
        """The instruction the model was trained to use for a search over ``modalities`` (None: all).

        Models without ``query_instructions`` (v2, the baselines) get none, as before."""

        cfg = getattr(getattr(getattr(self.model, "model", None), "config", None), "query_instructions", None)
        return default_instruction(cfg, modalities) if cfg is not None else None

    def calibrate(self) -> dict | None:
        """(Re)compute the per-modality score statistics (for an index made before they existed)."""
        self.require()
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

    def delete(self, *, uri: str | None = None, where: str | None = None, uris=None) -> int:
        """Delete the rows of ``uri`` / ``uris`` (files, resolved like ``add`` stores them) and of the SQL
        filter ``where``, in one commit; returns how many were deleted.

        Everything is checked before anything is deleted: ``where`` by ``check_filter`` and then by
        LanceDB itself (a one-row dry query under the writer lock), so a malformed filter raises
        ``FilterError`` and leaves every row in place."""
        targets = [*([uri] if uri else []), *(uris or [])]
        if where is not None:
            where = check_filter(where)
        if not targets and not where:
            raise InputError("delete needs uri=, uris= or where=")
        self.require()  # before the lock: its file must not appear in a directory that is no index

        uris_sql = ", ".join(quote(display(Path(u).resolve())) for u in targets)
        clauses = [f"uri IN ({uris_sql})"] if targets else []
        if where:
            clauses.append(f"({where})")
        with self.store.writer():
            table = self.store.table()
            if table is None:
                return 0
            if where:
                try:  # compile and plan the filter on this table before acting on it
                    table.search().where(f"({where})").select(["uri"]).limit(1).to_arrow()
                except Exception as err:
                    problem = filter_problem(err)
                    if problem is None:
                        raise
                    raise FilterError(
                        f"filter {where!r} was refused by LanceDB: {problem}; nothing was deleted"
                    ) from None
            before = table.count_rows()
            clause = " OR ".join(clauses)
            if not table.count_rows(clause):
                return 0
            table.delete(clause)
            removed = before - table.count_rows()
            if removed:  # nothing of a deleted file stays on disk, not even in old table versions
                self.store.purge(table)
            if removed and self.store.sidecar().get("calibration"):
                self._calibrate()
            return removed

    def require(self) -> None:
        """Refuse a missing directory, or one holding neither an index table nor an index sidecar."""
        self.store.require()
        if self.store.table() is None and not self.store.sidecar():
            raise IndexNotFoundError(
                f"--db {self.store.path} is not an omniret index (no table, no {SIDECAR})"
            )

    def build_ann(self, *, target_recall: float = 0.95, force: bool = False, engine: str = "embedded",
                  workers: int = 2) -> dict:  # fmt: skip
        """``engine="ray"``: the IVF index is built by ``workers`` Ray workers (lance-ray); tuned here."""

        check_target(target_recall)
        self.store.require()
        table = self.store.table()
        n = 0 if table is None else table.count_rows()
        if n < ANN_MIN_ROWS and not force:
            return {"skipped": f"{n} rows: exact search is used below {ANN_MIN_ROWS} rows"}
        with self.store.writer():
            build = (lambda *a: distributed_ann(*a, workers=workers)) if engine == "ray" else None
            return build_ann(self.store, target_recall=target_recall, build=build)

    def stats(self) -> dict:
        """What the index holds; one table version for every count (a writer may commit meanwhile)."""
        self.require()
        table = self.store.table()
        meta = self.store.sidecar()
        if table is None:
            return {"path": str(self.store.path), "rows": 0, **meta}
        cols = table.search().select(["modality", "uri", "text", "meta"]).limit(None).to_arrow()
        keyframes = table.count_rows("keyframe IS NOT NULL")
        mods = cols["modality"].to_pylist()
        by_mod = {m: mods.count(m) for m in sorted(set(mods))}
        ann = meta.get("ann")
        return {"path": str(self.store.path), "rows": cols.num_rows, "assets": len(set(cols["uri"].to_pylist())),
                "by_modality": by_mod, "model_id": meta.get("model_id"), "weights_hash": meta.get("weights_hash"),
                "recipe_hash": meta.get("recipe_hash"), "segmentation": meta.get("segmentation"),
                "index_mode": "ann" if ann else "exact",
                "ann_recall@10": ann.get("recall") if ann else None,
                "calibration": calibration_stats.summary(meta),
                "access": meta.get("access"),
                "speech": meta.get("speech"), "keywords": meta.get("keywords"),
                "stored_copies": _stored_copies(cols, keyframes, _count(table, "speech IS NOT NULL"),
                                                _count(table, "keywords IS NOT NULL"))}  # fmt: skip


def _count(table, where: str) -> int:
    """Rows matching ``where``; 0 on an index made before the column it names."""
    column = where.split()[0]
    return table.count_rows(where) if column in table.schema.names else 0


def _stored_copies(cols, keyframes: int, speech: int = 0, keywords: int = 0) -> dict:
    """What of the indexed files the index itself holds copies of (``delete`` and ``--prune`` remove
    them with their rows): rows with text (passages of text files and PDF pages, shown as snippets), JPEG
    keyframes of video moments and PDF pages, what is said in recordings (transcripts, subtitles), the
    words of each row in the full-text index, user metadata from sidecars or ``--meta``, and every path."""
    texts = sum(1 for t in cols["text"].to_pylist() if t)
    metas = sum(1 for m in cols["meta"].to_pylist() if m and m != "{}")
    return {"text_passages": texts, "keyframes": keyframes, "speech": speech, "keywords": keywords,
            "metadata": metas, "paths": cols.num_rows}  # fmt: skip


ENGINES = ("embedded", "ray")
__all__ += ["ANN_MIN_ROWS", "ENGINES", "SEARCH_MODES", "search_vector"]


def _composed_target(query: OmniInput) -> list[str] | None:
    """A composed query (one medium + a change request) asks for a changed item of that medium.

    That is how composed-retrieval tasks phrase it (FashionIQ, CIRR, the paper's CIR and ACM
    instructions: "retrieve the modified image"), so without a ``--modality`` filter it gets the
    target instruction of its medium; other queries search every modality.
    """
    media = [m for m in MEDIA_NAMES if getattr(query, m) is not None]
    return media if len(media) == 1 and query.text else None
