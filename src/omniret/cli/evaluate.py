"""``omniret eval mbeir``: score one or more models on M-BEIR-format tasks."""

from __future__ import annotations

from pathlib import Path

import typer

eval_app = typer.Typer(help="Evaluate models on retrieval benchmarks.", no_args_is_help=True)


def load_eval_model(spec: str):
    """'random', 'fusion:BASE', 'bridge-caption', 'dual-encoder', a preset, a checkpoint or dual-encoder dir, or a YAML file."""
    from omniret.eval.models import RandomRanker, ScoreFusion

    if spec == "random":
        return RandomRanker()
    import warnings

    from omniret.api import load_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the untrained-heads warning is expected for baselines
        if spec.startswith("fusion:"):
            return ScoreFusion(load_model(spec[len("fusion:") :]))
        return load_model(spec)


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
    k: str = typer.Option("1,5,10", help="Recall cut-offs, comma-separated."),
    out: Path = typer.Option(None, help="Results JSON (one record per model)."),
    run_out: Path = typer.Option(
        None, help="TREC run file (top 100); with several models, one file per model."
    ),
    report: Path = typer.Option(None, help="Markdown report (+ a PNG bar chart beside it)."),
    batch_size: int = typer.Option(16, help="Encode batch size."),
    cache_dir: Path = typer.Option(
        None, help="Where candidate embeddings are cached (default: ROOT/.eval-cache)."
    ),
) -> None:
    """Recall@k (hit rate), MRR and nDCG@10 per task (each against its own pool) and per group."""
    from omniret.eval.harness import CandidateCache, evaluate_task
    from omniret.eval.mbeir import BenchmarkFormatError, load_tasks
    from omniret.eval.report import results_record, write_json, write_report, write_trec

    ks = [int(x) for x in k.split(",") if x.strip()]
    try:
        task_list = load_tasks(root, split, tasks)
    except (BenchmarkFormatError, FileNotFoundError) as err:
        raise typer.BadParameter(str(err)) from None
    cache = CandidateCache(cache_dir or root / ".eval-cache")
    records = []
    for spec in model:
        m = load_eval_model(spec)
        results = []
        for task in task_list:
            res = evaluate_task(m, task, root, ks=ks, batch_size=batch_size, cache=cache)
            results.append(res)
            metric = " ".join(f"R@{kk} {100 * res.metrics[f'recall@{kk}']:.1f}" for kk in ks)
            skipped = (
                f" (skipped {len(res.skipped_queries)} queries, {len(res.skipped_candidates)} candidates)"
            )
            typer.echo(f"{m.model_id:>24}  {task.name:<28} {task.group:<10} {metric}  MRR {100 * res.metrics['mrr']:.1f}"
                       + (skipped if res.skipped_queries or res.skipped_candidates else ""))  # fmt: skip
        records.append(results_record(m, results, ks=ks, split=split))
        if run_out:
            target = (
                run_out
                if len(model) == 1
                else run_out.with_name(f"{run_out.stem}.{_slug(spec)}{run_out.suffix}")
            )
            write_trec(results, target, m.model_id)
    if out:
        write_json(records if len(records) > 1 else records[0], out)
    if report:
        primary = "recall@5" if 5 in ks else f"recall@{ks[0]}"
        write_report(records, report, metric=primary)


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in spec)
