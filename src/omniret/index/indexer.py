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

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.errors import InputError
from omniret.index.annotate import attach, choose, with_subtitles
from omniret.index.calibrate import calibrate, is_current
from omniret.index.decompose import decompose, encode_limit, segmentation, with_pooled_whole
from omniret.index.documents import describe_pages, pdf_segments, row_modality, textless_pages
from omniret.index.files import MAX_FILE_BYTES, Scan, detect, display, duration, printable
from omniret.index.filters import quote
from omniret.index.keyword import RECIPE as KEYWORD_RECIPE
from omniret.index.keyword import ensure_fts, keywords_text
from omniret.index.metadata import sidecar_meta
from omniret.index.objects import (
    ObjectFile,
    Source,
    discard,
    rename,
    split_roots,
    stage_boundary,
    staging_folder,
)
from omniret.index.paths import asset_id
from omniret.index.prune import candidates, check_prune_roots, find, known_files
from omniret.index.roots import Boundary, ReadGuard
from omniret.index.speech import SUBTITLE_SUFFIXES
from omniret.index.store import Store
from omniret.inputs import OmniInput
from omniret.inputs.media import MediaError, UnsupportedMediaError
from omniret.inputs.media.source import file_digest
from omniret.inputs.media.video import thumbnail
from omniret.progress import bar as progress_bar

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


class Indexer:
    def __init__(self, store: Store, model, *, batch_files: int = BATCH_FILES, max_audio_seconds: float = 4 * 3600,
                 max_file_bytes: int = MAX_FILE_BYTES, video_segments: str | None = None,
                 model_source: str | None = None, log=None, on_progress=None, transcripts: str = "auto",
                 transcriber=None, source: Source | None = None) -> None:  # fmt: skip
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
        self.source = source or Source()  # object-store roots: their storage options (``objects.py``)
        self.names: dict = {}  # a downloaded object's local copy -> the object, while its batch is made

    def add(
        self, paths: list, *, meta: dict | None = None, prune: bool = False, progress: bool = False,
        follow_links: bool = False, allow_outside_roots: bool = False,
    ) -> IndexReport:  # fmt: skip
        """``follow_links``: walk symlinked folders below the roots; ``allow_outside_roots`` (with it):
        read link targets outside the roots too. Both are recorded in the index (``index/roots.py``)."""
        report = IndexReport()
        if split_roots(paths):  # object-store URIs: the only local folder read is the downloads' staging
            if follow_links or allow_outside_roots:
                raise InputError("--follow-links and --allow-outside-roots apply to local folders, not to "
                                 "object-store URIs")  # fmt: skip
            self.boundary, access = stage_boundary(), Boundary(tuple(sorted(map(str, paths))))
        else:
            self.boundary = Boundary.of(paths, follow_links=follow_links, allow_outside=allow_outside_roots)
            access = self.boundary
            report.warnings += _link_warnings(paths)
        self.guard = ReadGuard(self.boundary)  # every later read of a file re-checks it
        found = find(paths, skip=self.store.local_path, boundary=self.boundary, source=self.source,
                     max_bytes=self.max_file_bytes)  # stat or list only: nothing opened  # fmt: skip
        if prune:
            check_prune_roots(found)  # before anything is written or deleted
        report.skipped += found.skipped
        with self.store.writer():
            # segmentation first: an index that already has a model but no recorded segmentation predates
            # the record and was cut at fixed 10 s
            self.video_mode = self.store.check_segmentation(self.wanted_segmentation)["video"]
            self.store.check_model(self.model.model_id, self.weights_hash, self.recipe_hash, self.model.dim,
                                   source=self.model_source)  # fmt: skip
            self.store.record_access(access)
            self._record_text_recipes()
            table = self.store.table(self.model.dim)
            known = known_files(table)  # asset id -> what the table holds about that file
            todo = self._plan(found.files, known, report)
            self._ingest(table, todo, known, meta or {}, report, progress)
            if prune:
                self._prune(table, found, known, paths, report)
            ensure_fts(table)  # the keyword index: built once, then kept current by optimize
            self.compact(table, report)
            if report.pruned:  # nothing of a pruned file stays on disk, not even in old table versions
                self.store.purge(table)
            elif report.rows_written:
                table.optimize()
            if not is_current(self.store, weights_hash=self.weights_hash):  # changed, stale or never made
                calibrate(self.store, model_id=self.model.model_id, weights_hash=self.weights_hash,
                          encode=lambda texts: self.model.encode([OmniInput(text=t) for t in texts]))  # fmt: skip
        return report

    def compact(self, table, report: IndexReport) -> None:
        """Merge the job's small fragments. Here ``optimize`` below does it; the Ray engine shares out
        those of a large job."""

    def _record_text_recipes(self) -> None:
        """How the index's words are made (speech and keyword recipes), chosen once per job and recorded."""
        meta = self.store.sidecar()
        speech, self.tower = choose(meta.get("speech"), self.transcripts, self.model,
                                             transcriber=self.transcriber)  # fmt: skip
        if (meta.get("speech"), meta.get("keywords")) != (speech, KEYWORD_RECIPE):
            self.store.write_sidecar({**meta, "speech": speech, "keywords": KEYWORD_RECIPE})

    def _plan(self, files: list, known: dict, report: IndexReport) -> list[tuple]:
        """(file, content hash, modality, seconds of media) of every new or changed file."""
        todo = []
        for f in files:
            if f.suffix.lower() in SIDECAR_SUFFIXES:  # metadata and subtitles of another file, not content
                continue
            if isinstance(f, ObjectFile):  # listed, not read: its modality is told once it is downloaded
                h, modality = f.content_hash(), None
            else:
                try:  # opened without blocking and checked to be a regular file before it is read
                    h, modality = self._digest(f)
                except MediaError as err:
                    report.skipped.append((display(f), printable(err.reason)))
                    continue
            old = known.get(asset_id(f))
            if old is not None and old.content_hash == h:
                report.unchanged += 1
                continue
            todo.append((f, h, modality, f.seconds() if isinstance(f, ObjectFile) else _seconds(f, modality)))
        return todo

    def _digest(self, f: Path) -> tuple[str, str | None]:
        self.boundary.check(f)  # again now: the entry may have been swapped for a link since the scan
        h, head = file_digest(f, max_bytes=self.max_file_bytes,  # streamed: flat memory for any size
                              check=lambda fd, f=f: self.guard.opened(fd, f))  # fmt: skip
        modality = detect(f, head)
        if modality in ("audio", "video"):  # its subtitles are part of what is indexed: a new or
            h = with_subtitles(h, f)  # changed .srt re-indexes the recording
        return h, modality

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

    def _batch_rows(self, batch, meta, report) -> tuple[list[dict], list]:
        """The rows of a batch and the files done. Objects of a bucket are downloaded first, made into
        rows from their local copies under their own names, and the copies deleted (``objects.py``)."""
        if not any(isinstance(f, ObjectFile) for f, *_ in batch):
            return self._local_rows(batch, meta, report)
        folder = staging_folder(self.boundary)
        start = (len(report.skipped), len(report.warnings))
        try:
            local = self._download(batch, folder, report)
            rows, done = self._local_rows(local, meta, report)
            rename(report.skipped, start[0], self.names)
            rename(report.warnings, start[1], self.names)
            return rows, [self.names[f] for f in done]
        finally:
            self.names = {}
            discard(folder)

    def _download(self, batch, folder: Path, report) -> list[tuple]:
        local = []
        for i, (obj, h, _, seconds) in enumerate(batch):
            try:
                copy = self.source.fetch(obj, folder / str(i))  # own folder: names may repeat
                with open(copy, "rb") as fh:
                    head = fh.read(4096)
            except MediaError as err:
                report.skipped.append((obj.uri, printable(err.reason)))
                continue
            self.guard.identity[copy] = self.guard.stamp(os.stat(copy))
            self.names[copy] = obj
            local.append((copy, h, detect(copy, head), seconds))
        return local

    def _local_rows(self, batch, meta, report) -> tuple[list[dict], list[Path]]:
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
        exact = os.fsencode(self.names.get(path, path))  # a downloaded object is stored as its URI
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
        for aid in candidates(known, found, roots):
            table.delete(f"asset_id = {quote(aid)}")
            report.pruned.append(known[aid].uri)
            report.pruned_rows += known[aid].rows


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


def _seconds(f: Path, modality: str | None) -> float:
    try:
        size = f.stat().st_size
    except OSError:  # gone since it was hashed: its decoder reports it
        size = 0
    return duration(f, modality, size)


def _link_warnings(paths: list) -> list[tuple[str, str]]:
    """A PATH that is (or passes through) a link: its target is the root, say so."""
    out = []
    for p in paths:
        real = os.path.realpath(p)
        if real != os.path.abspath(p):
            out.append((display(p), f"{display(p)} leads through a symlink to {display(real)}: "
                                    "that is the root indexed (links inside it are still checked)"))  # fmt: skip
    return out
