"""``omniret eval mbeir``: score one or more models on M-BEIR-format tasks.

Bad options and malformed benchmark files end as one line naming the option or file:line (exit 2,
via the root command's handler); a checkpoint whose weights hash does not match its manifest exits 1
unless ``--no-verify``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from omniret.errors import InputError
from omniret.eval import words as words_eval
from omniret.eval.report import write_json, write_report, write_trec
from omniret.eval.run import evaluate

eval_app = typer.Typer(help="Evaluate models on retrieval benchmarks.", no_args_is_help=True)


def parse_ks(text: str) -> list[int]:
    """'1,5,10' -> [1, 5, 10]: positive integers, at least one; anything else is an InputError naming -k."""

    ks = []
    for item in text.split(","):
        if not item.strip():
            continue
        try:
            value = int(item)
        except ValueError:
            raise InputError(f"--k must be comma-separated positive integers, got {text!r}") from None
        if value < 1:
            raise InputError(f"--k cut-offs must be positive, got {value} in {text!r}")
        ks.append(value)
    if not ks:
        raise InputError(f"--k needs at least one cut-off, got {text!r}")
    return list(dict.fromkeys(ks))


@eval_app.command("mbeir")
def mbeir(
    root: Path = typer.Argument(
        ..., help="Benchmark root in the M-BEIR layout (query/, cand_pool/, instructions/)."
    ),
    model: list[str] = typer.Option(
        ["omniret-small"],
        "--model",
        help="Model(s): preset, checkpoint dir, "
        "'bridge-caption', 'dual-encoder', 'fusion:BASE' or 'random'. Repeat to compare.",
    ),
    split: str = typer.Option("test", help="Query split to score."),
    tasks: str = typer.Option("*", help="Glob over task names, e.g. 'offline_*'."),
    k: str = typer.Option(
        "1,5,10", help="Recall and modality-precision cut-offs, comma-separated (modality precision also @5)."
    ),
    out: Path = typer.Option(None, help="Results JSON (one record per model)."),
    run_out: Path = typer.Option(
        None,
        help="TREC run file (top 100); with several models, one file per model; "
        "the global pool's run goes beside it as NAME.global.trec.",
    ),
    report: Path = typer.Option(
        None,
        help="Markdown report: means, per-task tables per pool, geometry (+ a PNG bar chart beside it).",
    ),
    batch_size: int = typer.Option(16, help="Encode batch size."),
    cache_dir: Path = typer.Option(
        None, help="Where candidate embeddings are cached (default: ROOT/.eval-cache)."
    ),
    pool: str = typer.Option(
        "local",
        help="'local': each task against its own pool; 'global': every task against the union of the "
        "split's pools (cand_pool/global/mbeir_union_{split}_cand_pool.jsonl if present, else the local "
        "pools de-duplicated by did), as in UniIR's M-BEIR global setting; 'both'.",
    ),
    no_verify: bool = typer.Option(
        False, "--no-verify", help="Do not check checkpoints' weights hashes against their manifests."
    ),
    engine: str = typer.Option(
        "embedded", "--engine", help="'ray': embed pools and queries in a Ray actor pool (docs/SCALE.md)."
    ),
    address: str = typer.Option(
        None, "--address", help="With --engine ray: the cluster; default a local one."
    ),
    actors: int = typer.Option(1, "--actors", help="With --engine ray: actors (each loads the model)."),
    geometry: bool = typer.Option(
        False,
        "--geometry",
        help="Also report the embedding geometry of the global pool per model: mean pairwise cosine "
        "per modality, distances between modality centroids, hubness of the queries' top 10 "
        "(needs --pool global or both).",
    ),
) -> None:
    """Recall@k (hit rate), MRR, nDCG@10 and modality precision@k per task and group, in each task's
    own pool and/or the global pool of the whole split."""

    ks = parse_ks(k)
    if actors < 1:
        raise InputError(f"--actors must be >= 1, not {actors}")

    def show(m, res) -> None:
        metric = " ".join(f"R@{kk} {100 * res.metrics[f'recall@{kk}']:.1f}" for kk in ks)
        skipped = f" (skipped {len(res.skipped_queries)} queries, {len(res.skipped_candidates)} candidates)"
        typer.echo(f"{m.model_id:>24}  {res.name:<28} {res.group:<10} {res.pool:<6} {metric}  "
                   f"MRR {100 * res.metrics['mrr']:.1f}  MP@5 {100 * res.metrics['modality_precision@5']:.1f}"
                   + (skipped if res.skipped_queries or res.skipped_candidates else ""))  # fmt: skip

    runs = evaluate(model, root, split=split, tasks=tasks, pool=pool, ks=ks, batch_size=batch_size,
                    cache_dir=cache_dir, verify=not no_verify, geometry=geometry, on_result=show, engine=engine,
                    address=address, actors=actors)  # fmt: skip
    records = [r.record for r in runs]
    for r in runs:
        if geometry and r.geometry is None:
            typer.echo(f"{r.model.model_id:>24}  no geometry: this model has no embeddings")
        if run_out:
            target = (
                run_out
                if len(runs) == 1
                else run_out.with_name(f"{run_out.stem}.{_slug(r.spec)}{run_out.suffix}")
            )
            if r.run.local:
                write_trec(r.run.local, target, r.model.model_id)
            if r.run.global_:  # the global run goes beside the local one: run.global.trec
                write_trec(
                    r.run.global_, target.with_name(f"{target.stem}.global{target.suffix}"), r.model.model_id
                )
    if out:
        write_json(records if len(records) > 1 else records[0], out)
    if report:
        primary = "recall@5" if 5 in ks else f"recall@{ks[0]}"
        write_report(records, report, metric=primary)


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in spec)


@eval_app.command("words")
def words(
    work: Path = typer.Option(
        Path("runs/words"), "--work", help="Where the collections, indexes and cache go."
    ),
    model: str = typer.Option(None, "--model", help="Model to index with (default omniret-small)."),
    out: Path = typer.Option(None, "--out", help="Results JSON (a Markdown table goes beside it as .md)."),
) -> None:
    """Search by what is said or written: held-out Asterisk speech in recordings, the same as subtitled
    videos, and sentences of real PDF pages (Debian docs); dense vs keyword vs hybrid vs hybrid + rerank,
    Recall@k and MRR@10 per recording/moment/page (``eval/words.py``)."""
    results = words_eval.run(work, model=model)
    table = words_eval.markdown(results)
    typer.echo(table)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_json(results, out)
        out.with_suffix(".md").write_text(table)
