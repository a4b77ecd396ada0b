"""``omniret bench build offline|ood|acm``: write benchmarks in the M-BEIR layout."""

from __future__ import annotations

from pathlib import Path

import typer

from omniret.datasets.acm import (
    acm_tasks,
    audio_visual_tasks,
    build_acm,
    default_embedders,
    llm_modification,
    read_clips,
)
from omniret.datasets.offline import OfflineBuilder
from omniret.datasets.ood import OodBuilder
from omniret.datasets.writer import write_instructions, write_task
from omniret.errors import InputError, OmniretError

bench_app = typer.Typer(help="Build benchmarks in the M-BEIR layout.", no_args_is_help=True)
build_app = typer.Typer(help="Build a benchmark.", no_args_is_help=True)
bench_app.add_typer(build_app, name="build")


@build_app.command("offline")
def offline(
    out: Path = typer.Option(..., "--out", help="Output directory."),
    limit: int = typer.Option(
        None, help="Cap every source at this many items (quick builds; skips the split check)."
    ),
) -> None:
    """The offline benchmark from packaged real data (openclipart, Fashion-MNIST, Asterisk, GM renders, animals)."""

    manifest = OfflineBuilder(out, limit=limit, log=typer.echo).build()  # a missing source: one line, exit 1
    typer.echo(f"wrote {len(manifest['tasks'])} tasks and {manifest['train_pairs']} train pairs to {out}")


@build_app.command("ood")
def ood(
    out: Path = typer.Option(..., "--out", help="Output directory."),
    limit: int = typer.Option(None, help="Cap every source at this many items per domain (quick builds)."),
) -> None:
    """Out-of-domain test set from real packaged data offline-v1 never uses (photos, icons, sounds, speech)."""

    manifest = OodBuilder(out, limit=limit, log=typer.echo).build()
    present = [n for n, s in manifest["sources"].items() if s["present"]]
    if not manifest["tasks"]:
        raise OmniretError(f"no OOD source is installed: {'; '.join(manifest['skipped_sources'].values())}")
    typer.echo(
        f"wrote {len(manifest['tasks'])} tasks from {len(present)} sources to {out}"
        + (f" (skipped: {', '.join(manifest['skipped_sources'])})" if manifest["skipped_sources"] else "")
    )


@build_app.command("acm")
def acm(
    clips: Path = typer.Option(
        ..., "--clips", help="JSONL: id, audio, caption, [video], [image], [attributes]."
    ),
    out: Path = typer.Option(..., "--out", help="Output directory."),
    window: str = typer.Option("0.6,0.8", help="Caption-similarity window lo,hi (paper: 0.6,0.8)."),
    delta: float = typer.Option(
        0.05, help="Minimum similarity gap to the last accepted target (both rules)."
    ),
    llm_url: str = typer.Option(
        None, envvar="OMNIRET_LLM_URL", help="OpenAI-compatible endpoint for change texts."
    ),
    llm_model: str = typer.Option(
        "gpt-4o-mini", envvar="OMNIRET_LLM_MODEL", help="Model name at that endpoint."
    ),
) -> None:
    """The paper's ACM construction (docs/METHOD_NOTES.md §10) over any captioned audio(-video) collection."""
    import json

    rows = read_clips(clips)
    base = clips.parent
    for c in rows:  # paths in clips.jsonl are relative to that file
        for attr in ("audio", "video", "image"):
            if getattr(c, attr) and not Path(getattr(c, attr)).is_absolute():
                setattr(c, attr, str((base / getattr(c, attr)).resolve()))

    try:
        lo, hi = (float(x) for x in window.split(","))
    except ValueError:
        raise InputError(f"--window {window!r}: expected two numbers 'lo,hi'") from None
    modify = llm_modification(llm_url, llm_model) if llm_url else None
    captions, audio = default_embedders()
    try:
        triplets, stats = build_acm(
            rows, caption_embed=captions, audio_embed=audio, modify=modify, window=(lo, hi), delta=delta
        )
    except ValueError as err:
        raise InputError(str(err)) from None
    root = base.resolve()
    tasks = {"acm_at2a": acm_tasks(triplets, root=root), **audio_visual_tasks(triplets, rows, root=root)}
    out.mkdir(parents=True, exist_ok=True)
    for name, (queries, pool) in tasks.items():
        for i, q in enumerate(queries):
            q["qid"] = f"112:{i}"
        write_task(out, name, "test", queries, pool)
    write_instructions(out, [{"query_modality": "audio,text", "cand_modality": "audio", "dataset_name": "acm",
                              "dataset_id": "112", "prompts": ["Find the sound after the described change."]}])  # fmt: skip
    (out / "manifest.json").write_text(json.dumps({"rule_counts": vars(stats), "media_root": str(root),
                                                   "tasks": {k: len(v[0]) for k, v in tasks.items()}}, indent=1))  # fmt: skip
    typer.echo(f"{stats.queries_kept} queries, {stats.targets} targets; rules: {vars(stats)}")
