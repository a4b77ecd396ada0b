"""``omniret index | search``: the main job, over ``omniret.index`` (delete, stats, calibrate: ``manage.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from omniret.cli.options import db_option, lock_timeout_option, pairs, storage_option
from omniret.errors import InputError, OmniretError
from omniret.index import ENGINES, FilterError, Index
from omniret.index.ann import check_target
from omniret.index.annotate import SETTINGS
from omniret.index.calibrate import MODALITIES, MODES
from omniret.index.decompose import VIDEO_MODES
from omniret.index.files import terminal_safe
from omniret.index.objects import Source, local_roots, split_roots
from omniret.index.prune import check_prune_roots, find, prune_preview
from omniret.index.roots import Boundary
from omniret.index.search import GROUPS, SEARCH_MODES
from omniret.index.store import Store
from omniret.inputs import OmniInput

NO_VERIFY_HELP = (
    "Load the model without checking its weights against the hash in its manifest (a mismatch is "
    "refused by default: it means the file was corrupted or edited)."
)


def index(
    paths: list[str] = typer.Argument(
        ...,
        help="Files or folders to index (recursively), or object-store URIs: s3://bucket/prefix, gs://, az://.",
    ),
    db: str = db_option(must_exist=False),
    model: str = typer.Option(
        None, "--model", help="Model (default: the index's model, else omniret-small)."
    ),
    meta: list[str] = typer.Option(None, "--meta", help="key=value metadata stored with every new row."),
    storage_option: list[str] = storage_option(),
    prune: bool = typer.Option(
        False,
        "--prune",
        help="Remove rows of files that vanished from PATHS. Refused (nothing deleted) when a path does not "
        "exist or holds no file that can be indexed; rows of files that still exist are never removed.",
    ),
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="With --prune: only say how many rows, of which files, it would delete; nothing is deleted or "
        "indexed and no model is loaded.",
    ),
    build_ann: bool = typer.Option(
        False, "--build-ann", help="Build an ANN index and tune it to --target-recall."
    ),
    target_recall: float = typer.Option(
        0.95, "--target-recall", help="Recall@10 vs exact search the ANN must reach."
    ),
    batch_files: int = typer.Option(
        8, "--batch-files", help="Files per commit (and at most 30 min of media per commit)."
    ),
    video_segments: str = typer.Option(
        None,
        "--video-segments",
        help="Video moments: 'fixed' (every 10 s) or 'shots' (cut at shot changes, at most 10 s). "
        "Default: the index's own; 'fixed' for a new index.",
    ),
    transcripts: str = typer.Option(
        "auto",
        "--transcripts",
        help="Store what is said in audio windows and video moments (Whisper transcript; sidecar .srt/.vtt "
        "subtitles win when present): 'on', 'off', or 'auto' (the index's own setting; on for a new index "
        "when the model has a Whisper tower).",
    ),
    engine: str = typer.Option(
        "embedded",
        "--engine",
        help="'embedded' (this process) or 'ray': decode, transcribe and embed in a Ray actor pool (the "
        "model loaded once per actor), rows committed here exactly as embedded (docs/SCALE.md).",
    ),
    address: str = typer.Option(
        None,
        "--address",
        help="With --engine ray: the cluster ('auto', 'ray://host:10001'); default: a local one.",
    ),
    actors: int = typer.Option(
        1, "--actors", help="With --engine ray: actors in the pool (each loads the model)."
    ),
    cpus_per_actor: float = typer.Option(1.0, "--cpus-per-actor", help="With --engine ray: CPUs per actor."),
    gpus_per_actor: float = typer.Option(
        None,
        "--gpus-per-actor",
        help="With --engine ray: GPUs per actor (default: 1 when the cluster has one per actor).",
    ),
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
    lock_timeout: float = lock_timeout_option(),
    no_verify: bool = typer.Option(False, "--no-verify", help=NO_VERIFY_HELP),
    follow_links: bool = typer.Option(
        False,
        "--follow-links",
        help="Also walk symlinked folders below PATHS (each real folder once). Links never lead outside "
        "PATHS unless --allow-outside-roots is given too.",
    ),
    allow_outside_roots: bool = typer.Option(
        False,
        "--allow-outside-roots",
        help="With --follow-links: read link targets outside PATHS too (anyone who can place a link in PATHS "
        "can then copy any file you can read into the index; docs/SECURITY.md). Recorded in the index.",
    ),
) -> None:
    """Index images, audio, video, text and PDF files into one table; unchanged files are skipped.

    A PDF becomes one image row per page plus its text passages; audio windows and video moments carry
    their transcript or subtitles. Every row's words (file name, text, speech, metadata) go into a
    full-text index for `omniret search --mode keyword|hybrid`.

    Per-modality score statistics (for --calibration) are recomputed whenever the table changed. Entries
    that cannot be indexed (broken or looping symlinks, FIFOs, sockets, devices, unreadable files and
    folders, bad media, symlinks leading outside PATHS) are listed as "skipped PATH: reason" and the
    run goes on."""
    paths = local_roots(paths)
    source = Source(pairs(storage_option, "--storage-option"))
    store = Store(db, storage_options=source.options)  # a bad --db is refused here; nothing is made
    boundary = None if split_roots(paths) else Boundary.of(paths, follow_links=follow_links,
                                                           allow_outside=allow_outside_roots)  # fmt: skip

    if engine not in ENGINES:
        raise InputError(f"--engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if actors < 1 or cpus_per_actor <= 0 or (gpus_per_actor is not None and gpus_per_actor < 0):
        raise InputError("--actors must be >= 1, --cpus-per-actor > 0 and --gpus-per-actor >= 0")
    if engine == "embedded" and (address or actors != 1 or gpus_per_actor is not None):
        raise InputError("--address, --actors and --gpus-per-actor go with --engine ray")
    if transcripts not in SETTINGS:
        raise InputError(f"--transcripts must be one of {', '.join(SETTINGS)}, not {transcripts!r}")
    if video_segments not in (None, *VIDEO_MODES):
        raise InputError(f"--video-segments must be one of {', '.join(VIDEO_MODES)}, not {video_segments!r}")
    if build_ann:
        check_target(target_recall)  # before hours of indexing, not after
    if dry_run and not prune:
        raise InputError("--dry-run previews what --prune would delete: give it together with --prune")
    if dry_run:
        preview = prune_preview(store, paths, boundary, source=source)  # creates nothing, loads no model
        typer.echo(f"dry run: --prune would delete {preview.rows} rows of {len(preview.files)} files; "
                   "nothing was deleted or indexed")  # fmt: skip
        for uri, rows in preview.files:
            typer.echo(terminal_safe(f"would prune {uri} ({rows} rows)"))
        for path, reason in preview.skipped:
            typer.echo(terminal_safe(f"skipped {path}: {reason}"))
        return
    if prune:  # a mistyped or moved root is refused before the model is loaded (the indexer checks again)
        check_prune_roots(find(paths, skip=store.local_path, boundary=boundary, source=source))
    ix = Index(
        db, model=model, lock_timeout=lock_timeout, verify=not no_verify, storage_options=source.options
    )
    report = ix.add(paths, meta=pairs(meta, "--meta"), prune=prune, progress=not quiet, batch_files=batch_files,
                    video_segments=video_segments, follow_links=follow_links,
                    allow_outside_roots=allow_outside_roots, log=typer.echo if quiet else None,
                    transcripts=transcripts, engine=engine, address=address, actors=actors,
                    cpus_per_actor=cpus_per_actor, gpus_per_actor=gpus_per_actor)  # fmt: skip
    pruned = f"pruned {len(report.pruned)} files" + (f" ({report.pruned_rows} rows)" if report.pruned else "")
    typer.echo(f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {report.unchanged}, "
               f"{pruned}; wrote {report.rows_written} rows")  # fmt: skip
    for path, reason in report.skipped:
        typer.echo(terminal_safe(f"skipped {path}: {reason}"))
    for _, problem in report.warnings:
        typer.echo(terminal_safe(f"warning: {problem}"), err=True)
    if build_ann:
        ann = ix.build_ann(target_recall=target_recall, engine=engine, workers=max(2, actors))
        typer.echo(f"ann: {ann}")
        if ann.get("met_target") is False:
            typer.echo(f"warning: measured recall@{ann['k']} {ann['recall']:.3f} is below the target "
                       f"{target_recall} even when probing every partition", err=True)  # fmt: skip


def _parse_video(spec: str) -> tuple[str, tuple[float, float] | None]:
    """'clip.mp4@12-20' -> ('clip.mp4', (12.0, 20.0))."""
    path, sep, span = spec.rpartition("@")
    if not sep or "-" not in span:
        return spec, None
    t0, _, t1 = span.partition("-")
    try:
        return path, (float(t0), float(t1))
    except ValueError:
        return spec, None


def search(
    text: str = typer.Argument(None, help="Query text (combine with media for a composed query)."),
    image: Path = typer.Option(None, "--image", help="Query image."),
    audio: Path = typer.Option(None, "--audio", help="Query audio."),
    video: str = typer.Option(None, "--video", help="Query video, optionally a moment: clip.mp4@t0-t1."),
    instruction: str = typer.Option(None, "--instruction", help="Task instruction for the query."),
    db: str = db_option(),
    storage_option: list[str] = storage_option(),
    model: str = typer.Option(
        None, "--model", help="Model (default: the one that built the index); it must match the index."
    ),
    k: int = typer.Option(
        10, "-k", help="Number of results (>= 1; more than the index holds returns every row)."
    ),
    modality: str = typer.Option(
        None, "--modality", help="Only these result modalities, e.g. image,audio (image, audio, video, text)."
    ),
    where: str = typer.Option(
        None,
        "--where",
        help="SQL filter on columns (uri, modality, t0, t1, meta, ...); parentheses must balance, no comments.",
    ),
    group_by: str = typer.Option(None, "--group-by", help="'asset' collapses segments of one file."),
    calibration: str = typer.Option(
        "auto",
        "--calibration",
        help="Rank hits of different modalities by per-modality z-scores of their cosine ('on'), by raw "
        "cosine ('off'), or 'auto': on when the index holds two or more modalities and has stats for its "
        "model. A --modality filter to one modality always ranks by raw cosine.",
    ),
    mode: str = typer.Option(
        "dense",
        "--mode",
        help="'dense' (embeddings), 'keyword' (BM25 over file names, passages, transcripts, subtitles and "
        "metadata; no model is loaded) or 'hybrid' (both, fused by reciprocal rank, k=60). Keyword and "
        "hybrid rank by the query's text.",
    ),
    rerank: bool = typer.Option(
        False,
        "--rerank",
        help="Second stage: re-score the first stage's top --rerank-top hits by late interaction (MaxSim "
        "over the composer's token states, recomputed from each row's text or file; OmniRet models only).",
    ),
    rerank_top: int = typer.Option(100, "--rerank-top", help="How many first-stage hits --rerank re-scores."),
    as_json: bool = typer.Option(
        False,
        "--json",
        help="Print results as JSON (raw 'score', 'calibrated_score' per hit; hybrid: 'dense_score', "
        "'keyword_score', and the fusion under 'ranking').",
    ),
    no_verify: bool = typer.Option(False, "--no-verify", help=NO_VERIFY_HELP),
) -> None:
    """Search with any combination of text, image, audio and video.

    Raw cosines are not comparable across modalities with the current model (a text query can give
    every image a higher cosine than the matching note), so without a --modality filter, or with
    several, hits are ranked by calibrated score when the index has calibration stats."""
    import math

    # every option is checked before the index is opened or the model loaded
    if mode not in SEARCH_MODES:
        raise InputError(f"--mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    if mode != "dense" and not (text or "").strip():
        raise InputError(f"--mode {mode} ranks by words: give a query text")
    if rerank_top < 1:
        raise InputError(f"--rerank-top must be a positive number of hits, not {rerank_top}")
    if calibration not in MODES:
        raise InputError(f"--calibration must be one of {', '.join(MODES)}, not {calibration!r}")
    if k < 1:
        raise InputError(f"-k must be a positive number of results, not {k}")
    mods = None
    if modality is not None:
        mods = [m.strip() for m in modality.split(",")]
        bad = [m for m in mods if m not in MODALITIES]
        if bad:
            raise InputError(f"--modality {modality!r}: {', '.join(map(repr, bad))} is not a modality; "
                             f"expected one or more of {', '.join(MODALITIES)} (comma-separated)")  # fmt: skip
    if group_by is not None and group_by not in GROUPS:
        raise InputError(f"--group-by must be one of {', '.join(GROUPS)}, not {group_by!r}")
    vpath, span = _parse_video(video) if video else (None, None)
    if span is not None and not (
        math.isfinite(span[0]) and math.isfinite(span[1]) and 0 <= span[0] < span[1]
    ):
        raise InputError(f"--video {video!r}: a moment must be finite seconds t0-t1 with 0 <= t0 < t1")
    if video and span is None and "@" in video and not Path(video).exists():
        raise InputError(f"--video {video!r}: expected an existing file, or a moment file@t0-t1 with seconds "
                         "0 <= t0 < t1")  # fmt: skip
    ix = Index(
        db, model=model, verify=not no_verify, storage_options=pairs(storage_option, "--storage-option")
    )
    ix.require()  # before the model is loaded; search never creates an index
    try:
        query = OmniInput(
            text=text, image=image, audio=audio, video=vpath, instruction=instruction, span=span
        )
        result = ix.search(query, k=k, modalities=mods, where=where, group_by_asset=group_by == "asset",
                           calibration=calibration, mode=mode, rerank=rerank_top if rerank else None)  # fmt: skip
    except FilterError as err:
        raise InputError(f"--where: {err}") from None
    except OmniretError:
        raise
    except (ValueError, FileNotFoundError) as err:  # OmniInput's own checks, calibration "on" without stats
        raise InputError(str(err)) from None
    if as_json:
        typer.echo(json.dumps({"mode": result.mode, "calibration": result.calibration, "ranking": result.ranking,
                               "hits": [h.as_dict() for h in result.hits]}, indent=1))  # fmt: skip
        return
    ranked = ("hybrid: rrf, " if mode == "hybrid" else "") + ("reranked, " if rerank else "")
    typer.echo(f"{len(result.hits)} results ({ranked}{result.mode}, calibration {result.calibration}, "
               f"{1000 * result.seconds:.0f} ms)")  # fmt: skip
    for rank, h in enumerate(result.hits, 1):
        typer.echo(terminal_safe(hit_line(rank, h)))


def hit_line(rank: int, h) -> str:
    """One result: score, modality, file, and where in it (moment, page) with what it says."""
    moment = f" [{h.t0:.1f}-{h.t1:.1f} s]" if h.t0 is not None and h.modality in ("audio", "video") else ""
    page = f" p.{h.page}" if h.page is not None else ""
    words = h.text or h.speech
    said = "said: " if not h.text and h.speech else ""
    snippet = f"  {said}“{' '.join(words.split())[:60]}”" if words else ""
    z = f" z {h.calibrated_score:+6.2f}" if h.calibrated_score is not None else ""
    r = f" r {h.rerank_score:.3f}" if h.rerank_score is not None else ""
    return f"{rank:>3}. {h.score:.3f}{z}{r}  {h.modality:<6} {h.uri}{page}{moment}{snippet}"


def register(app: typer.Typer) -> None:
    for fn in (index, search):
        app.command(fn.__name__)(fn)
