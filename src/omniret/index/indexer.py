"""``Index(path).add(paths)``: incremental, crash-safe ingestion of any media folder into one table.

Every file's rows are written in the same commit as the other files of its batch, after its old rows
(if its content changed) were deleted: a crash at any point leaves each file either fully indexed
with its current content or absent, so re-running finishes the job with no lost or duplicated rows.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from omniret.index.calibrate import calibrate, is_current
from omniret.index.decompose import decompose, segmentation
from omniret.index.files import detect, duration, walk
from omniret.index.store import Store, quote
from omniret.inputs import OmniInput
from omniret.media import MediaError
from omniret.media.source import file_digest
from omniret.media.video import thumbnail

MAX_FILE_BYTES = 2 * 1024**3
BATCH_FILES = 8  # files per commit (P2 on real media: 8 -> 1.12x, 16 -> 1.16x, 32 -> 1.29x the towers)
BATCH_MEDIA_SECONDS = 1800.0  # ... and at most 30 min of media, so decoded audio stays bounded


@dataclass
class IndexReport:
    added: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    pruned: list[str] = field(default_factory=list)
    rows_written: int = 0


def asset_id(path: Path) -> str:
    return hashlib.sha256(str(path).encode()).hexdigest()[:16]


class Indexer:
    def __init__(self, store: Store, model, *, batch_files: int = BATCH_FILES, max_audio_seconds: float = 4 * 3600,
                 max_file_bytes: int = MAX_FILE_BYTES, video_segments: str | None = None,
                 log=None) -> None:  # fmt: skip
        self.store, self.model, self.batch_files, self.max_file_bytes = (
            store,
            model,
            batch_files,
            max_file_bytes,
        )
        self.max_audio_seconds, self.log = max_audio_seconds, log or (lambda *_: None)
        self.recipe_hash = model.recipes.get("hash", "none") if isinstance(model.recipes, dict) else "none"
        self.weights_hash = model.weights_hash  # hashes every head tensor: once per job, not per row
        self.wanted_segmentation = segmentation(video_segments) if video_segments else None
        self.video_mode = "fixed"

    def add(
        self, paths: list, *, meta: dict | None = None, prune: bool = False, progress: bool = False
    ) -> IndexReport:
        report = IndexReport()
        with self.store.writer():
            # segmentation first: an index that already has a model but no recorded segmentation predates
            # the record and was cut at fixed 10 s
            self.video_mode = self.store.check_segmentation(self.wanted_segmentation)["video"]
            self.store.check_model(self.model.model_id, self.weights_hash, self.recipe_hash, self.model.dim)
            table = self.store.table(self.model.dim)
            known = _known(table)  # uri -> content hash
            files = walk(paths, skip=self.store.path)
            todo = self._plan(files, known, report)
            self._ingest(table, todo, known, meta or {}, report, progress)
            if prune:
                self._prune(table, files, known, paths, report)
            if report.rows_written or report.pruned:
                table.optimize()
            if not is_current(self.store, weights_hash=self.weights_hash):  # changed, stale or never made
                calibrate(self.store, model_id=self.model.model_id, weights_hash=self.weights_hash,
                          encode=lambda texts: self.model.encode([OmniInput(text=t) for t in texts]))  # fmt: skip
        return report

    def _plan(
        self, files: list[Path], known: dict, report: IndexReport
    ) -> list[tuple[Path, bytes, str, str | None, float]]:
        todo = []
        for f in files:
            if f.suffix.lower() == ".json":  # metadata sidecars, not content
                continue
            try:
                h, head = file_digest(f, max_bytes=self.max_file_bytes)  # streamed: flat memory for any size
            except MediaError as err:
                report.skipped.append((str(f), err.reason))
                continue
            if known.get(str(f)) == h:
                report.unchanged += 1
                continue
            modality = detect(f, head)
            todo.append((f, h, modality, duration(f, modality, f.stat().st_size)))
        return todo

    def _ingest(self, table, todo, known, meta, report, progress) -> None:
        bar = _progress(progress, sum(t[3] for t in todo))  # ETA by media duration, not file count
        finished = 0
        for batch in commit_batches(todo, self.batch_files, BATCH_MEDIA_SECONDS):
            finished += len(batch)
            rows, done = self._batch_rows(batch, meta, report)
            replaced = [u for u in done if u in known]
            report.added += [u for u in done if u not in known]
            for uri in replaced:  # old rows go first: a crash now only leaves the file absent
                table.delete(f"uri = {quote(uri)}")
            if rows:
                table.add(rows)
            report.replaced += replaced
            report.rows_written += len(rows)
            for _, _, _, seconds in batch:
                bar(seconds)
            self.log(f"committed {len(rows)} rows from {finished}/{len(todo)} files")

    def _batch_rows(self, batch, meta, report) -> tuple[list[dict], list[str]]:
        """Decompose every file of the batch, then encode all their segments in one call (heads at full
        batch size); a file whose media fail is reported and left out, the rest stay."""
        parts = []
        for f, h, modality, _ in batch:
            try:
                parts.append((f, h, modality, self._segments(f, modality)))
            except MediaError as err:
                report.skipped.append((str(f), err.reason))
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
                    report.skipped.append((str(part[0]), err.reason))
            parts, vectors = kept, (np.concatenate(vectors) if vectors else np.zeros((0, self.model.dim)))
        rows, k = [], 0
        for f, h, modality, segs in parts:
            rows += self._rows(f, h, modality, segs, vectors[k : k + len(segs)], meta)
            k += len(segs)
        return rows, [str(p[0]) for p in parts]

    def _segments(self, path: Path, modality: str | None):
        if modality is None:
            from omniret.media import UnsupportedMediaError

            raise UnsupportedMediaError(str(path), "not an image, audio, video or text file")
        return decompose(
            path, modality, max_audio_seconds=self.max_audio_seconds, video_mode=self.video_mode
        )[0]

    def _rows(
        self, path: Path, content_hash: str, modality: str, segments, vectors, meta: dict
    ) -> list[dict]:
        file_meta = {**_sidecar_meta(path), **meta}
        return [{
            "asset_id": asset_id(path), "segment_id": s.segment_id, "uri": str(path), "modality": modality,
            "t0": s.t0, "t1": s.t1, "content_hash": content_hash, "model_id": self.model.model_id,
            "weights_hash": self.weights_hash, "recipe_hash": self.recipe_hash, "meta": json.dumps(file_meta),
            "text": s.text, "vector": v.astype(np.float32),
            "keyframe": thumbnail(path, s.keyframe_at) if s.keyframe_at is not None else None,
        } for s, v in zip(segments, vectors, strict=True)]  # fmt: skip

    def _prune(self, table, files, known, roots, report) -> None:
        present = {str(f) for f in files}
        root_strs = [str(Path(r).resolve()) for r in roots]
        for uri in known:
            if uri not in present and any(uri.startswith(r) for r in root_strs):
                table.delete(f"uri = {quote(uri)}")
                report.pruned.append(uri)


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


def _known(table) -> dict[str, str]:
    if table.count_rows() == 0:
        return {}
    rows = table.search().select(["uri", "content_hash"]).limit(None).to_arrow()
    return dict(zip(rows["uri"].to_pylist(), rows["content_hash"].to_pylist(), strict=True))


def _sidecar_meta(path: Path) -> dict:
    """User metadata from ``file.ext.json`` or ``file.json`` beside the file, if any."""
    for cand in (path.with_name(path.name + ".json"), path.with_suffix(".json")):
        if cand != path and cand.is_file():
            try:
                data = json.loads(cand.read_text())
                return data if isinstance(data, dict) else {}
            except json.JSONDecodeError:
                return {}
    return {}


def _progress(enabled: bool, total_seconds: float):
    """A bar over seconds of media, with ETA; images count 1 s each."""
    if not enabled or total_seconds <= 0:
        return lambda seconds: None
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("indexing"), BarColumn(), TextColumn("{task.completed:.0f}/{task.total:.0f} s of media"),
                   TimeRemainingColumn(), transient=True)  # fmt: skip
    bar.start()
    task = bar.add_task("indexing", total=total_seconds)

    def advance(seconds: float) -> None:
        bar.advance(task, seconds)
        if bar.tasks[0].completed >= total_seconds - 1e-6:
            bar.stop()

    return advance
