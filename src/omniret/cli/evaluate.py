"""``omniret eval mbeir``: score one or more models on M-BEIR-format tasks.

Bad options and malformed benchmark files end as one line naming the option or file:line (exit 2,
via the root command's handler); a checkpoint whose weights hash does not match its manifest exits 1
unless ``--no-verify``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from omniret.api import load_model
from omniret.baselines.fusion import RandomRanker, ScoreFusion
from omniret.errors import InputError
from omniret.eval.global_pool import POOLS, evaluate_pools, load_global_pool, pool_geometry
from omniret.eval.harness import CandidateCache
from omniret.eval.mbeir import load_tasks
from omniret.eval.report import results_record, write_json, write_report, write_trec

eval_app = typer.Typer(help="Evaluate models on retrieval benchmarks.", no_args_is_help=True)


def load_eval_model(spec: str, *, verify: bool = True):
    """'random', 'fusion:BASE', 'bridge-caption', 'dual-encoder', a preset, a checkpoint or dual-encoder dir, or a YAML file.

    ``verify``: check a checkpoint's weights hash against its manifest (False: ``--no-verify``)."""

    if spec == "random":
        return RandomRanker()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the untrained-heads warning is expected for baselines
        if spec.startswith("fusion:"):
            return ScoreFusion(load_model(spec[len("fusion:") :], verify=verify))
        return load_model(spec, verify=verify)


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

    if pool not in POOLS:
        raise InputError(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}")
    if geometry and pool == "local":
        raise InputError("--geometry is computed on the global pool: add --pool global or --pool both")
    if batch_size < 1:
        raise InputError(f"--batch-size must be positive, got {batch_size}")
    ks = parse_ks(k)
    if not root.is_dir():
        raise InputError(f"benchmark root {root} is not a directory")
    task_list = load_tasks(root, split, tasks)  # every file is read and checked before a model loads
    union = None if pool == "local" else load_global_pool(root, split)
    cache = CandidateCache(cache_dir or root / ".eval-cache")
    records = []
    for spec in model:
        m = load_eval_model(spec, verify=False) if no_verify else load_eval_model(spec)

        def show(res, m=m) -> None:
            metric = " ".join(f"R@{kk} {100 * res.metrics[f'recall@{kk}']:.1f}" for kk in ks)
            skipped = (
                f" (skipped {len(res.skipped_queries)} queries, {len(res.skipped_candidates)} candidates)"
            )
            typer.echo(f"{m.model_id:>24}  {res.name:<28} {res.group:<10} {res.pool:<6} {metric}  "
                       f"MRR {100 * res.metrics['mrr']:.1f}  MP@5 {100 * res.metrics['modality_precision@5']:.1f}"
                       + (skipped if res.skipped_queries or res.skipped_candidates else ""))  # fmt: skip

        run = evaluate_pools(m, task_list, root, pool=pool, ks=ks, split=split, batch_size=batch_size,
                             cache=cache, union=union, on_result=show)  # fmt: skip
        geo = pool_geometry(run) if geometry else None
        if geometry and geo is None:
            typer.echo(f"{m.model_id:>24}  no geometry: this model has no embeddings")
        records.append(results_record(m, run.local, ks=ks, split=split, global_results=run.global_,
                                      global_pool=run.union, geometry=geo))  # fmt: skip
        if run_out:
            target = (
                run_out
                if len(model) == 1
                else run_out.with_name(f"{run_out.stem}.{_slug(spec)}{run_out.suffix}")
            )
            if run.local:
                write_trec(run.local, target, m.model_id)
            if run.global_:  # the global run goes beside the local one: run.global.trec
                write_trec(run.global_, target.with_name(f"{target.stem}.global{target.suffix}"), m.model_id)
    if out:
        write_json(records if len(records) > 1 else records[0], out)
    if report:
        primary = "recall@5" if 5 in ks else f"recall@{ks[0]}"
        write_report(records, report, metric=primary)


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in spec)
