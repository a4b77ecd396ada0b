"""``Index(path).add(paths)``: incremental, crash-safe ingestion of any media folder into one table.

Every file's rows are written in the same commit as the other files of its batch, after its old rows
(if its content changed) were deleted: a crash at any point leaves each file either fully indexed
with its current content or absent, so re-running finishes the job with no lost or duplicated rows.

No single entry aborts a job: every file-system entry under the roots is classified first
(``files.scan``: loops, dangling links, FIFOs, sockets, devices, unreadable files and folders are
skipped with their reason, and never opened), and every file whose media fail is reported and left
out. A file is known by the exact bytes of its path (``asset_id``; ``path_bytes`` column), so a name
that is not UTF-8 is indexed, re-indexed and pruned like any other; its ``uri`` shows those bytes as
``\\xNN``. ``--prune`` only deletes rows of files that are gone, under roots that exist and still hold
files (``check_prune_roots``); ``prune_preview`` says what it would delete without touching anything.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.errors import InputError
from omniret.index.annotate import attach, choose, with_subtitles
from omniret.index.calibrate import calibrate, is_current
from omniret.index.decompose import decompose, encode_limit, segmentation, with_pooled_whole
from omniret.index.documents import describe_pages, pdf_segments, row_modality, textless_pages
from omniret.index.files import Scan, detect, display, duration, printable, scan
from omniret.index.filters import quote
from omniret.index.keyword import RECIPE as KEYWORD_RECIPE
from omniret.index.keyword import ensure_fts, keywords_text
from omniret.index.metadata import sidecar_meta
from omniret.index.roots import Boundary, ReadGuard
from omniret.index.speech import SUBTITLE_SUFFIXES
from omniret.index.store import Store
from omniret.inputs import OmniInput
from omniret.inputs.media import MediaError, UnsupportedMediaError
from omniret.inputs.media.source import file_digest
from omniret.inputs.media.video import thumbnail
from omniret.progress import bar as progress_bar

MAX_FILE_BYTES = 2 * 1024**3
SIDECAR_SUFFIXES = (".json", *SUBTITLE_SUFFIXES)  # files that describe another file
BATCH_FILES = 8  # files per commit (P2 on real media: 8 -> 1.12x, 16 -> 1.16x, 32 -> 1.29x the towers)
BATCH_MEDIA_SECONDS = 1800.0  # ... and at most 30 min of media, so decoded audio stays bounded


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file or folder, reason)
    pruned: list[str] = field(default_factory=list)
    rows_written: int = 0
    pruned_rows: int = 0
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (file, problem): indexed all the same


@dataclass
class Known:
    """What the table holds about one file: its shown ``uri``, content hash, exact path bytes, rows."""

    uri: str
    content_hash: str
    path: bytes
    rows: int


@dataclass
class PrunePreview:
    """What ``--prune`` would delete: (uri, rows) per file, and the entries the scan skipped."""

    files: list[tuple[str, int]]
    skipped: list[tuple[str, str]]

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.files)


def asset_id(path: str | bytes | os.PathLike) -> str:
    """16 hex digits of the sha256 of the path's exact bytes: stable across runs for any file name, and
    for a UTF-8 name the same id as before names that are not UTF-8 were supported."""
    return hashlib.sha256(os.fsencode(path)).hexdigest()[:16]


class Indexer:
    def __init__(self, store: Store, model, *, batch_files: int = BATCH_FILES, max_audio_seconds: float = 4 * 3600,
                 max_file_bytes: int = MAX_FILE_BYTES, video_segments: str | None = None,
                 model_source: str | None = None, log=None, on_progress=None, transcripts: str = "auto",
                 transcriber=None) -> None:  # fmt: skip
        self.store, self.model, self.batch_files, self.max_file_bytes = (
            store,
            model,
            batch_files,
            max_file_bytes,
        )
        self.max_audio_seconds, self.log = max_audio_seconds, log or (lambda *_: None)
        self.on_progress = on_progress or (lambda done, total: None)  # files finished of files to do
        self.model_source = model_source
        self.recipe_hash = model.recipes.get("hash", "none") if isinstance(model.recipes, dict) else "none"
        self.weights_hash = model.weights_hash  # hashes every head tensor: once per job, not per row
        self.wanted_segmentation = segmentation(video_segments) if video_segments else None
        self.video_mode = "fixed"
        # transcripts: auto | on | off (``annotate.choose``); transcriber: any object with ``speech_cues``
        # (default: the model's Whisper tower)
        self.transcripts, self.transcriber, self.tower = transcripts, transcriber, None
        self._said: dict = {}  # path -> what was said, until the pooled whole row of a long recording exists

    def add(
        self, paths: list, *, meta: dict | None = None, prune: bool = False, progress: bool = False,
        follow_links: bool = False, allow_outside_roots: bool = False,
    ) -> IndexReport:  # fmt: skip
        """``follow_links``: walk symlinked folders below the roots; ``allow_outside_roots`` (with it):
        read link targets outside the roots too. Both are recorded in the index (``index/roots.py``)."""
        report = IndexReport()
        self.boundary = Boundary.of(paths, follow_links=follow_links, allow_outside=allow_outside_roots)
        self.guard = ReadGuard(self.boundary)  # every later read of a file re-checks it
        found = scan(paths, skip=self.store.path, boundary=self.boundary)  # lstat/stat only: nothing opened
        for p in paths:  # a PATH that is (or passes through) a link: its target is the root, say so
            real = os.path.realpath(p)
            if real != os.path.abspath(p):
                report.warnings.append((display(p), f"{display(p)} leads through a symlink to {display(real)}: "
                                                    "that is the root indexed (links inside it are still checked)"))  # fmt: skip
        if prune:
            check_prune_roots(found)  # before anything is written or deleted
        report.skipped += found.skipped
        with self.store.writer():
            # segmentation first: an index that already has a model but no recorded segmentation predates
            # the record and was cut at fixed 10 s
            self.video_mode = self.store.check_segmentation(self.wanted_segmentation)["video"]
            self.store.check_model(self.model.model_id, self.weights_hash, self.recipe_hash, self.model.dim,
                                   source=self.model_source)  # fmt: skip
            self.store.record_access(self.boundary)
            self._record_text_recipes()
            table = self.store.table(self.model.dim)
            known = _known(table)  # asset id -> what the table holds about that file
            todo = self._plan(found.files, known, report)
            self._ingest(table, todo, known, meta or {}, report, progress)
            if prune:
                self._prune(table, found, known, paths, report)
            ensure_fts(table)  # the keyword index: built once, then kept current by optimize
            if report.pruned:  # nothing of a pruned file stays on disk, not even in old table versions
                self.store.purge(table)
            elif report.rows_written:
                table.optimize()
            if not is_current(self.store, weights_hash=self.weights_hash):  # changed, stale or never made
                calibrate(self.store, model_id=self.model.model_id, weights_hash=self.weights_hash,
                          encode=lambda texts: self.model.encode([OmniInput(text=t) for t in texts]))  # fmt: skip
        return report

    def _record_text_recipes(self) -> None:
        """How the index's words are made (speech and keyword recipes), chosen once per job and recorded."""
        meta = self.store.sidecar()
        speech, self.tower = choose(meta.get("speech"), self.transcripts, self.model,
                                             transcriber=self.transcriber)  # fmt: skip
        if (meta.get("speech"), meta.get("keywords")) != (speech, KEYWORD_RECIPE):
            self.store.write_sidecar({**meta, "speech": speech, "keywords": KEYWORD_RECIPE})

    def _plan(
        self, files: list[Path], known: dict, report: IndexReport
    ) -> list[tuple[Path, bytes, str, str | None, float]]:
        todo = []
        for f in files:
            if f.suffix.lower() in SIDECAR_SUFFIXES:  # metadata and subtitles of another file, not content
                continue
            try:  # opened without blocking and checked to be a regular file before it is read
                self.boundary.check(f)  # again now: the entry may have been swapped for a link since the scan
                h, head = file_digest(f, max_bytes=self.max_file_bytes,  # streamed: flat memory for any size
                                      check=lambda fd, f=f: self.guard.opened(fd, f))  # fmt: skip
            except MediaError as err:
                report.skipped.append((display(f), printable(err.reason)))
                continue
            modality = detect(f, head)
            if modality in ("audio", "video"):  # its subtitles are part of what is indexed: a new or
                h = with_subtitles(h, f)  # changed .srt re-indexes the recording
            old = known.get(asset_id(f))
            if old is not None and old.content_hash == h:
                report.unchanged += 1
                continue
            try:
                size = f.stat().st_size
            except OSError:  # gone since it was hashed: its decoder reports it
                size = 0
            todo.append((f, h, modality, duration(f, modality, size)))
        return todo

    def _ingest(self, table, todo, known, meta, report, progress) -> None:
        bar = progress_bar(
            "indexing", sum(t[3] for t in todo), enabled=progress, unit="s of media"
        )  # ETA by duration
        columns = set(table.schema.names)  # an older table may lack a column (see store.schema)
        finished = 0
        self.on_progress(0, len(todo))
        for batch, rows, done in self.produce(todo, meta, report):
            finished += len(batch)
            ids = [asset_id(f) for f in done]
            replaced = [a for a in ids if a in known]
            report.added += [display(f) for f, a in zip(done, ids, strict=True) if a not in known]
            for aid in replaced:  # old rows go first: a crash now only leaves the file absent
                table.delete(f"asset_id = {quote(aid)}")
            if rows:
                table.add([{k: v for k, v in r.items() if k in columns} for r in rows])
            report.replaced += [display(f) for f, a in zip(done, ids, strict=True) if a in known]
            report.rows_written += len(rows)
            for _, _, _, seconds in batch:
                bar(seconds)
            self.log(f"committed {len(rows)} rows from {finished}/{len(todo)} files")
            self.on_progress(finished, len(todo))

    def produce(self, todo, meta, report):
        """(files, their rows, the files done) per commit, in order of completion. Here every batch is
        decoded and encoded in this process; ``ray_engine.RayIndexer`` does it in an actor pool."""
        for batch in commit_batches(todo, self.batch_files, BATCH_MEDIA_SECONDS):
            rows, done = self._batch_rows(batch, meta, report)
            yield batch, rows, done

    def _batch_rows(self, batch, meta, report) -> tuple[list[dict], list[str]]:
        """Decompose every file of the batch, then encode all their segments in one call (heads at full
        batch size); a file whose media fail is reported and left out, the rest stay."""
        parts = []
        for f, h, modality, _ in batch:
            try:
                parts.append((f, h, modality, self._segments(f, modality, report)))
            except MediaError as err:
                report.skipped.append((display(f), printable(err.reason)))
            except (OSError, RuntimeError, ValueError) as err:  # a decoder's own failure: skip the file
                reason = f"cannot be decoded ({type(err).__name__}: {err})"
                report.skipped.append((display(f), printable(reason)))
        parts = self._still_same(parts, report)  # media are decoded lazily, inside encode: check first
        flat = [s.input for *_, segs in parts for s in segs]
        try:
            vectors = self.model.encode(flat, batch_size=16) if flat else np.zeros((0, self.model.dim))
        except MediaError:  # isolate the bad file(s), keep the others
            vectors, kept = [], []
            for part in parts:
                try:
                    vectors.append(self.model.encode([s.input for s in part[3]], batch_size=16))
                    kept.append(part)
                except MediaError as err:
                    report.skipped.append((display(part[0]), printable(err.reason)))
            parts, vectors = kept, (np.concatenate(vectors) if vectors else np.zeros((0, self.model.dim)))
        rows, done, k = [], [], 0
        for f, h, modality, segs in parts:
            vecs, k = vectors[k : k + len(segs)], k + len(segs)
            try:  # checked again after decoding and keyframes: a swap during them drops the file
                file_rows = self._rows(f, h, modality, segs, vecs, meta, report)
                self.guard.unchanged(f)
            except MediaError as err:
                report.skipped.append((display(f), printable(err.reason)))
                continue
            rows += file_rows
            done.append(f)
        return rows, done

    def _still_same(self, parts: list, report: IndexReport) -> list:
        kept = []
        for part in parts:
            try:
                self.guard.unchanged(part[0])
                kept.append(part)
            except MediaError as err:
                report.skipped.append((display(part[0]), printable(err.reason)))
        return kept

    def _segments(self, path: Path, modality: str | None, report: IndexReport):
        if modality is None:
            raise UnsupportedMediaError(display(path), "not an image, audio, video, text or PDF file")
        self.guard.unchanged(path)  # each read re-checks the roots and the file (the decoders open it again)
        if modality == "document":
            segments = pdf_segments(path)[0]
            bare = textless_pages(segments)
            if bare:
                report.warnings.append((display(path), f"{display(path)}: no text on {describe_pages(bare)} (scanned "
                                                       "or drawn?): indexed as page images only"))  # fmt: skip
            return segments
        segments, seconds = decompose(path, modality, max_audio_seconds=self.max_audio_seconds,
                                      video_mode=self.video_mode, encode_seconds=encode_limit(self.model))  # fmt: skip
        said = attach(path, modality, segments, seconds, self.tower, report.warnings)
        if said is not None and any(s.pooled for s in segments):  # its whole row is made in ``_rows``
            self._said[path] = said
        return segments

    def _rows(
        self, path: Path, content_hash: str, modality: str, segments, vectors, meta: dict, report: IndexReport
    ) -> list[dict]:
        file_meta = {**sidecar_meta(path, report, self.boundary), **meta}
        if any(s.keyframe_at is not None for s in segments):
            self.guard.unchanged(path)  # keyframes decode the video once more
        segments, vectors = with_pooled_whole(segments, vectors)  # long recordings: whole row = windows' mean
        said = self._said.pop(path, None)
        if said is not None and segments[0].segment_id == "whole":
            said.fill(segments[:1])  # everything said in the recording, as a short one's whole row has
        exact = os.fsencode(path)
        uri = display(exact)
        kinds = [row_modality(s, modality) for s in segments]
        return [{
            "asset_id": asset_id(exact), "segment_id": s.segment_id, "uri": uri, "modality": kind,
            "t0": s.t0, "t1": s.t1, "content_hash": content_hash, "model_id": self.model.model_id,
            "weights_hash": self.weights_hash, "recipe_hash": self.recipe_hash, "meta": json.dumps(file_meta),
            "text": s.text, "vector": v.astype(np.float32),
            "keyframe": s.thumbnail or (thumbnail(path, s.keyframe_at) if s.keyframe_at is not None else None),
            "path_bytes": exact, "page": s.page, "speech": s.speech, "speech_lang": s.speech_lang,
            "speech_source": s.speech_source,
            "keywords": keywords_text(uri=uri, text=s.text if kind == "text" else None, speech=s.speech,
                                      meta=file_meta),
        } for s, v, kind in zip(segments, vectors, kinds, strict=True)]  # fmt: skip

    def _prune(self, table, found: Scan, known: dict, roots, report: IndexReport) -> None:
        for aid in prune_candidates(known, found.files, roots, found.boundary):
            table.delete(f"asset_id = {quote(aid)}")
            report.pruned.append(known[aid].uri)
            report.pruned_rows += known[aid].rows


def check_prune_roots(found: Scan) -> None:
    """Refuse a prune whose roots do not exist or hold no file that can be indexed: a mistyped, moved or
    unmounted root would otherwise look like "every file under it was deleted". Called before anything
    is written, so a refusal leaves the index exactly as it was."""
    for root, count in found.roots.items():
        if count < 0:
            raise InputError(f"refusing to prune: {display(root)} does not exist (mistyped, moved or not "
                             "mounted?); nothing was deleted")  # fmt: skip
        if count == 0:
            raise InputError(f"refusing to prune: {display(root)} holds no file that can be indexed, so every "
                             "row under it would be deleted; nothing was deleted (remove rows with "
                             "`omniret delete` instead)")  # fmt: skip


def prune_candidates(known: dict[str, Known], files: list[Path], roots, boundary: Boundary) -> list[str]:
    """Asset ids of the rows ``--prune`` deletes: files under one of ``roots`` (by exact path bytes,
    whole path components only) that were not found by this scan and are verifiably gone, or whose path
    now leads outside the roots (a file swapped for such a link is no indexable entry any more)."""
    present = {asset_id(f) for f in files}
    tops = [os.fsencode(os.path.realpath(r)).rstrip(b"/") + b"/" for r in roots]
    return [aid for aid, k in known.items()
            if aid not in present and any((k.path + b"/").startswith(t) for t in tops)
            and (_gone(k.path) or not boundary.permits(os.fsdecode(k.path)))]  # fmt: skip


def _gone(path: bytes) -> bool:
    """The path no longer leads to a regular file. When that cannot be told (no permission on a folder on
    the way, an I/O error), the file counts as present: prune never deletes rows of files that exist."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        return True
    except OSError as err:
        return err.errno == errno.ELOOP
    return not stat.S_ISREG(st.st_mode)


def prune_preview(store: Store, paths: list, boundary: Boundary | None = None) -> PrunePreview:
    """What ``add(paths, prune=True)`` would delete, without deleting, indexing or creating anything (no
    model is needed). Refuses the same roots as the prune itself."""
    found = scan(paths, skip=store.path, boundary=boundary)
    check_prune_roots(found)
    table = store.table()  # None: no index (or no table) yet, so nothing to delete
    known = _known(table) if table is not None else {}
    ids = prune_candidates(known, found.files, paths, found.boundary)
    return PrunePreview([(known[a].uri, known[a].rows) for a in sorted(ids, key=lambda a: known[a].uri)],
                        found.skipped)  # fmt: skip


def commit_batches(todo: list, max_files: int, max_seconds: float):
    """Consecutive groups of at most ``max_files`` files and ``max_seconds`` of media; a single longer
    file is a batch of its own. Decoded waves of a batch are held together until it is committed."""
    batch, seconds = [], 0.0
    for item in todo:
        if batch and (len(batch) >= max_files or seconds + item[3] > max_seconds):
            yield batch
            batch, seconds = [], 0.0
        batch.append(item)
        seconds += item[3]
    if batch:
        yield batch


def _known(table) -> dict[str, Known]:
    """asset id -> what the table holds about that file (rows of older indexes have no ``path_bytes``:
    their path is their ``uri``)."""
    if table.count_rows() == 0:
        return {}
    columns = ["asset_id", "uri", "content_hash"] + (
        ["path_bytes"] if "path_bytes" in table.schema.names else []
    )
    rows = table.search().select(columns).limit(None).to_arrow()
    ids = rows["asset_id"].to_pylist()
    counts = Counter(ids)
    exact = rows["path_bytes"].to_pylist() if "path_bytes" in columns else [None] * len(ids)
    return {aid: Known(uri, h, raw if raw is not None else os.fsencode(uri), counts[aid])
            for aid, uri, h, raw in zip(ids, rows["uri"].to_pylist(), rows["content_hash"].to_pylist(), exact,
                                        strict=True)}  # fmt: skip
