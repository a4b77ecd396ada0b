"""``omniret index | search | delete | stats | calibrate``: the main job, over ``omniret.index``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

DB_HELP = "Index directory (LanceDB, embedded)."


def _parse_meta(items: list[str] | None) -> dict:
    meta = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"--meta {item!r} must look like key=value")
        meta[key] = value
    return meta


def index(
    paths: list[Path] = typer.Argument(..., help="Files or folders to index (recursively)."),
    db: Path = typer.Option(Path("omniret-db"), "--db", help=DB_HELP),
    model: str = typer.Option(
        None, "--model", help="Model (default: the index's model, else omniret-small)."
    ),
    meta: list[str] = typer.Option(None, "--meta", help="key=value metadata stored with every new row."),
    prune: bool = typer.Option(False, "--prune", help="Remove rows of files that vanished from PATHS."),
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
    quiet: bool = typer.Option(False, "--quiet", help="No progress bar."),
) -> None:
    """Index images, audio, video and text files into one table; unchanged files are skipped.

    Per-modality score statistics (for --calibration) are recomputed whenever the table changed."""
    from omniret.index import Index, IndexMismatchError
    from omniret.index.decompose import VIDEO_MODES

    if video_segments not in (None, *VIDEO_MODES):
        raise typer.BadParameter(
            f"--video-segments must be one of {', '.join(VIDEO_MODES)}, not {video_segments!r}"
        )
    ix = Index(db, model=model)
    try:
        report = ix.add(paths, meta=_parse_meta(meta), prune=prune, progress=not quiet, batch_files=batch_files,
                        video_segments=video_segments, log=typer.echo if quiet else None)  # fmt: skip
    except IndexMismatchError as err:
        raise typer.BadParameter(str(err)) from None
    typer.echo(f"added {len(report.added)}, replaced {len(report.replaced)}, unchanged {report.unchanged}, "
               f"pruned {len(report.pruned)} files; wrote {report.rows_written} rows")  # fmt: skip
    for path, reason in report.skipped:
        typer.echo(f"skipped {path}: {reason}")
    if build_ann:
        ann = ix.build_ann(target_recall=target_recall)
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
    db: Path = typer.Option(Path("omniret-db"), "--db", help=DB_HELP),
    k: int = typer.Option(10, "-k", help="Number of results."),
    modality: str = typer.Option(None, "--modality", help="Only these result modalities, e.g. image,audio."),
    where: str = typer.Option(
        None, "--where", help="SQL filter on columns (uri, modality, t0, t1, meta, ...)."
    ),
    group_by: str = typer.Option(None, "--group-by", help="'asset' collapses segments of one file."),
    calibration: str = typer.Option(
        "auto",
        "--calibration",
        help="Rank hits of different modalities by per-modality z-scores of their cosine ('on'), by raw "
        "cosine ('off'), or 'auto': on when the index holds two or more modalities and has stats for its "
        "model. A --modality filter to one modality always ranks by raw cosine.",
    ),
    as_json: bool = typer.Option(
        False, "--json", help="Print results as JSON (raw 'score' and 'calibrated_score' per hit)."
    ),
) -> None:
    """Search with any combination of text, image, audio and video.

    Raw cosines are not comparable across modalities with the current model (a text query can give
    every image a higher cosine than the matching note), so without a --modality filter, or with
    several, hits are ranked by calibrated score when the index has calibration stats."""
    from omniret.index import Index
    from omniret.index.calibrate import MODES
    from omniret.inputs import OmniInput
    from omniret.media import MediaError

    if calibration not in MODES:  # before loading the model
        raise typer.BadParameter(f"--calibration must be one of {', '.join(MODES)}, not {calibration!r}")
    vpath, span = _parse_video(video) if video else (None, None)
    try:
        query = OmniInput(
            text=text, image=image, audio=audio, video=vpath, instruction=instruction, span=span
        )
        result = Index(db).search(query, k=k, modalities=modality.split(",") if modality else None, where=where,
                                  group_by_asset=group_by == "asset", calibration=calibration)  # fmt: skip
    except (ValueError, FileNotFoundError, MediaError) as err:
        raise typer.BadParameter(str(err)) from None
    if as_json:
        typer.echo(json.dumps({"mode": result.mode, "calibration": result.calibration,
                               "hits": [h.as_dict() for h in result.hits]}, indent=1))  # fmt: skip
        return
    typer.echo(f"{len(result.hits)} results ({result.mode}, calibration {result.calibration}, "
               f"{1000 * result.seconds:.0f} ms)")  # fmt: skip
    for rank, h in enumerate(result.hits, 1):
        moment = (
            f" [{h.t0:.1f}-{h.t1:.1f} s]" if h.t0 is not None and h.modality in ("audio", "video") else ""
        )
        snippet = f"  “{h.text[:60]}”" if h.text else ""
        z = f" z {h.calibrated_score:+6.2f}" if h.calibrated_score is not None else ""
        typer.echo(f"{rank:>3}. {h.score:.3f}{z}  {h.modality:<6} {h.uri}{moment}{snippet}")


def delete(
    paths: list[Path] = typer.Argument(None, help="Files whose rows to delete."),
    where: str = typer.Option(None, "--where", help="Delete rows matching this SQL filter instead."),
    db: Path = typer.Option(Path("omniret-db"), "--db", help=DB_HELP),
) -> None:
    """Delete the rows of some files (or of a filter) from the index (its calibration stats are refreshed)."""
    from omniret.index import Index

    ix = Index(db)
    if not paths and not where:
        raise typer.BadParameter("give files to delete or --where")
    n = sum(ix.delete(uri=str(p)) for p in paths or []) + (ix.delete(where=where) if where else 0)
    typer.echo(f"deleted {n} rows")


def stats(db: Path = typer.Option(Path("omniret-db"), "--db", help=DB_HELP)) -> None:
    """Counts by modality, the model and recipe, the search mode, the ANN's measured recall and the
    per-modality calibration stats (mean and std of cosine per query and candidate modality)."""
    from omniret.index import Index

    typer.echo(json.dumps(Index(db).stats(), indent=1))


def calibrate(db: Path = typer.Option(Path("omniret-db"), "--db", help=DB_HELP)) -> None:
    """(Re)compute the per-modality score statistics of an index (`omniret index` keeps them current;
    this is for indexes made before they existed)."""
    from omniret.index import Index

    cal = Index(db).calibrate()
    if cal is None:
        raise typer.BadParameter(f"{db} holds no rows to calibrate")
    typer.echo(json.dumps(cal, indent=1))


def register(app: typer.Typer) -> None:
    for fn in (index, search, delete, stats, calibrate):
        app.command(fn.__name__)(fn)
