"""P7: text search. (A) LanceDB's native full-text index (BM25 over ``keywords``) at 100k rows: build
time, size, incremental cost and query latency of keyword, dense exact and hybrid search side by side;
(B) what transcripts and PDF page images add to ``Index.add`` next to the towers.

A: a table with the index's real schema (dim 384, seeded random unit vectors); every row's keywords
are a file name plus a run of 30-120 consecutive words of real English: the deduplicated paragraphs
of /usr/share/doc/*/copyright and the docstrings and comments of Python's standard library. Queries
are 2-3 content words drawn (seeded) by frequency from the same text, each with a random unit vector;
searches go through ``search_vector`` as ``omniret search`` does (open table, sidecar, filters).
B: 6 clips of 10-30 s of speech (espeak-ng reading Asterisk prompts' transcripts) indexed with
transcripts off and on, and 3 five-page PDFs (Apache-2.0 / GPL-3 text) vs the same text as .txt
files; the default model (omniret-small) is loaded once, feature cache off, and warmed up on a tiny
folder first, so model loading and first-call allocation are not timed. One run of each by default
(``--repeats N``: N interleaved runs, median; single runs of B move by ±30 % on this shared machine).

    .venv/bin/python benchmarks/p7_text_search.py [--rows 100000] [--queries 200] [--repeats 1]

Writes benchmarks/results/p7_text_search.json.
"""

from __future__ import annotations

import argparse
import ast
import glob
import gzip
import json
import re
import sys
import sysconfig
import tempfile
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np

from _common import table

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results" / "p7_text_search.json"
DIM = 384
WORD = re.compile(r"[A-Za-z][A-Za-z']*[A-Za-z]|[A-Za-z]")
# Query words: frequent words a user might type, not function words (BM25 drops English stop words anyway).
STOP = set("""the and for that this with from are not any you your which will can use may such all its
have has was were been being but into than then them they their there these those when where who what
how why also only other more most some each shall under used using return returns value values none
true false self args kwargs""".split())  # fmt: skip
PROMPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")
LICENSES = [Path("/usr/share/common-licenses/Apache-2.0"), Path("/usr/share/common-licenses/GPL-3")]


# ---------------------------------------------------------------- A: the word source


def corpus_words() -> tuple[list[str], dict]:
    """Real English words in reading order: deduplicated paragraphs of Debian copyright files (the same
    licence texts recur in hundreds of them), then stdlib module/class/function docstrings and comments."""
    seen, words = set(), []
    n_paragraphs = {"copyright": 0, "stdlib": 0}

    def take(paragraph: str, source: str) -> None:
        toks = WORD.findall(paragraph)
        key = " ".join(toks).lower()
        if len(toks) >= 5 and key not in seen:
            seen.add(key)
            words.extend(toks)
            n_paragraphs[source] += 1

    for f in sorted(glob.glob("/usr/share/doc/*/copyright")):
        for para in re.split(r"\n\s*\n", Path(f).read_text(errors="replace")):
            take(para, "copyright")
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "test", "tests", "idlelib", "lib2to3"}
    for f in sorted(p for p in stdlib.rglob("*.py") if not skip & set(p.relative_to(stdlib).parts)):
        try:
            src = f.read_text(encoding="utf-8")
            tree = ast.parse(src)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                for para in re.split(r"\n\s*\n", ast.get_docstring(node) or ""):
                    take(para, "stdlib")
        comments = [line.strip().lstrip("#") for line in src.splitlines() if line.strip().startswith("#")]
        take(" ".join(comments), "stdlib")
    return words, {"tokens": len(words), "distinct_lower": len({w.lower() for w in words}),
                   "paragraphs": n_paragraphs}  # fmt: skip


def unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def rows_batch(words: list[str], rng: np.random.Generator, start: int, n: int):
    """``n`` rows in the index schema: text rows whose keywords are built as the indexer builds them."""
    import pyarrow as pa

    from omniret.index.keyword import keywords_text
    from omniret.index.store import schema

    lengths = rng.integers(30, 121, size=n)
    offsets = rng.integers(0, len(words) - 121, size=n)
    ids = [f"doc{start + i:06d}" for i in range(n)]
    uris = [
        f"/notes/{words[o].lower()}-{words[o + 1].lower()}-{start + i}.txt" for i, o in enumerate(offsets)
    ]
    texts = [" ".join(words[o : o + m]) for o, m in zip(offsets, lengths, strict=True)]
    cols = {f.name: pa.nulls(n, f.type) for f in schema(DIM)}
    cols |= {"asset_id": pa.array(ids), "segment_id": pa.array(["p0"] * n), "uri": pa.array(uris),
             "modality": pa.array(["text"] * n), "text": pa.array(texts), "meta": pa.array(["{}"] * n),
             "keywords": pa.array([keywords_text(uri=u, text=t) for u, t in zip(uris, texts, strict=True)]),
             "vector": pa.FixedSizeListArray.from_arrays(pa.array(unit(rng, n).reshape(-1)), DIM)}  # fmt: skip
    return pa.table(cols, schema=schema(DIM)), int(lengths.sum())


def fts_info(tbl) -> dict:
    ix = next(i for i in tbl.list_indices() if i.index_type == "FTS")
    return {"size_bytes": int(ix.size_bytes), "indexed_rows": int(ix.num_indexed_rows),
            "unindexed_rows": int(ix.num_unindexed_rows), "segments": int(ix.num_segments)}  # fmt: skip


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def pct(ms: list[float]) -> dict:
    a = np.array(ms)
    return {"p50_ms": float(np.median(a)), "p99_ms": float(np.percentile(a, 99)), "mean_ms": float(a.mean()),
            "max_ms": float(a.max())}  # fmt: skip


def fts_bench(rows: int, n_queries: int, batch: int, tmp: Path) -> dict:
    from omniret.index.keyword import ensure_fts
    from omniret.index.search import search_vector
    from omniret.index.store import Store

    start = time.perf_counter()
    words, source = corpus_words()
    corpus_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    store = Store(tmp / "fts-db")
    tbl = store.table(DIM)
    start, tokens = time.perf_counter(), 0
    for i in range(0, rows, batch):
        data, t = rows_batch(words, rng, i, min(batch, rows - i))
        tbl.add(data)
        tokens += t
    write_s = time.perf_counter() - start
    start = time.perf_counter()
    assert ensure_fts(tbl)
    build_s = time.perf_counter() - start
    built = fts_info(tbl)
    start = time.perf_counter()
    tbl.optimize()  # as Index.add does after ensure_fts: compacts the write batches, remaps the index
    first_optimize_s = time.perf_counter() - start

    qrng = np.random.default_rng(1)
    pool = [w for w in words if len(w) >= 3 and w.lower() not in STOP]
    queries = [" ".join(pool[j] for j in qrng.integers(0, len(pool), size=qrng.integers(2, 4)))
               for _ in range(n_queries + 10)]  # fmt: skip
    vectors = unit(qrng, n_queries + 10)
    modes = {
        "dense": lambda q, v: search_vector(store, v, k=10, mode="dense"),
        "keyword": lambda q, v: search_vector(store, None, k=10, mode="keyword", text=q),
        "hybrid": lambda q, v: search_vector(store, v, k=10, mode="hybrid", text=q),
    }

    def run(names: list[str], qs, vs) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
        ms = {m: [] for m in names}
        hits = {m: [] for m in names}
        for q, v in zip(qs, vs, strict=True):  # interleaved: drift on a shared machine hits every mode
            for m in names:
                t = time.perf_counter()
                res = modes[m](q, v)
                ms[m].append((time.perf_counter() - t) * 1000)
                hits[m].append(len(res.hits))
        return ms, hits

    run(list(modes), queries[:10], vectors[:10])  # warm-up
    ms, hits = run(list(modes), queries[10:], vectors[10:])

    # incremental: 1,000 more rows (one commit), searched flat until optimize folds them into the index
    data, _ = rows_batch(words, rng, rows, 1000)
    start = time.perf_counter()
    tbl.add(data)
    add_s = time.perf_counter() - start
    pending = fts_info(tbl)
    kw_pending, _ = run(["keyword"], queries[10:], vectors[10:])
    start = time.perf_counter()
    tbl.optimize()
    optimize_s = time.perf_counter() - start
    after = fts_info(tbl)
    kw_after, _ = run(["keyword"], queries[10:], vectors[10:])
    lance = tmp / "fts-db" / "segments.lance"
    return {
        "rows": rows, "dim": DIM, "write_batch_rows": batch, "keyword_tokens": tokens,
        "mean_words_per_row": tokens / rows, "corpus": source, "corpus_seconds": corpus_s,
        "write_seconds": write_s, "fts_build_seconds": build_s, "fts_after_build": built,
        "first_optimize_seconds": first_optimize_s, "indices_dir_bytes": dir_bytes(lance / "_indices"),
        "data_dir_bytes": dir_bytes(lance / "data"),
        "incremental": {"rows": 1000, "add_seconds": add_s, "optimize_seconds": optimize_s,
                        "fts_before_optimize": pending, "fts_after_optimize": after,
                        "keyword_with_1000_unindexed": pct(kw_pending["keyword"]),
                        "keyword_after_optimize": pct(kw_after["keyword"])},
        "queries": n_queries, "example_queries": queries[10:15],
        "latency": {m: pct(v) for m, v in ms.items()},
        "mean_hits": {m: float(np.mean(h)) for m, h in hits.items()},
        "keyword_queries_with_under_10_hits": int(sum(h < 10 for h in hits["keyword"])),
    }  # fmt: skip


# ---------------------------------------------------------------- B: transcripts and PDF pages


def prompt_passages(word_counts: list[int]) -> list[str]:
    """Consecutive Asterisk prompt transcripts joined into passages of about ``word_counts`` words."""
    lines = gzip.open(PROMPTS, "rt", errors="replace").read().splitlines()
    sentences = [ln.split(":", 1)[1].strip() for ln in lines if ":" in ln and not ln.startswith(";")]
    sentences = [s for s in sentences if len(s.split()) >= 4]
    out, i = [], 0
    for want in word_counts:
        words: list[str] = []
        while len(words) < want:
            words += sentences[i % len(sentences)].split()
            i += 1
        out.append(" ".join(words))
    return out


def license_pages(n_docs: int, pages: int, lines_per_page: int = 40) -> list[list[list[str]]]:
    """Per document, per page, lines of ~80 chars of licence text (an empty line between paragraphs)."""
    lines: list[str] = []
    for f in LICENSES:
        for para in re.split(r"\n\s*\n", f.read_text()):
            flat = " ".join(para.split())
            if flat:
                lines += [*textwrap.wrap(flat, 80), ""]
    per_doc = pages * lines_per_page
    assert len(lines) >= n_docs * per_doc, len(lines)
    return [[lines[d * per_doc + p * lines_per_page : d * per_doc + (p + 1) * lines_per_page]
             for p in range(pages)] for d in range(n_docs)]  # fmt: skip


def make_media(tmp: Path) -> dict:
    import soundfile as sf

    sys.path.insert(0, str(ROOT))
    from tests.helpers.pdf import make_pdf, text_content
    from tests.helpers.speech import spoken_wav

    folders = {k: tmp / k for k in ("warm", "audio", "pdf", "txt")}
    for f in folders.values():
        f.mkdir()
    passages = prompt_passages([25, 35, 45, 55, 65, 70, 12])  # ~11-30 s each at espeak-ng's pace
    for i, text in enumerate(passages[:-1]):
        spoken_wav(folders["audio"] / f"speech-{i}.wav", text)
    spoken_wav(folders["warm"] / "warm.wav", passages[-1])
    docs = license_pages(4, 5)
    for i, doc in enumerate(docs[:3]):
        make_pdf(folders["pdf"] / f"licence-{i}.pdf", [text_content(*page) for page in doc])
        (folders["txt"] / f"licence-{i}.txt").write_text("\n\n".join("\n".join(page) for page in doc) + "\n")
    make_pdf(folders["warm"] / "warm.pdf", [text_content(*docs[3][0])])
    (folders["warm"] / "warm.txt").write_text("\n".join(docs[3][1]) + "\n")
    seconds = [sf.info(p).duration for p in sorted(folders["audio"].glob("*.wav"))]
    return {"folders": folders, "audio_seconds": seconds, "pdf_pages": sum(len(d) for d in docs[:3]),
            "txt_chars": sum(p.stat().st_size for p in folders["txt"].iterdir())}  # fmt: skip


def index_time(model, folder: Path, db: Path, transcripts: str = "auto") -> dict:
    from omniret.index import Index
    from omniret.index.store import Store

    start = time.perf_counter()
    report = Index(db, model=model).add([folder], transcripts=transcripts)
    seconds = time.perf_counter() - start
    tbl = Store(db).table()
    by = tbl.to_arrow().select(["modality", "speech"]).to_pylist()
    return {"seconds": seconds, "rows": report.rows_written, "warnings": len(report.warnings),
            "rows_by_modality": {m: sum(r["modality"] == m for r in by) for m in sorted({r["modality"] for r in by})},
            "rows_with_speech": sum(bool(r["speech"]) for r in by)}  # fmt: skip


def index_bench(tmp: Path, repeats: int) -> dict:
    import torch

    from omniret.api import load_model

    torch.set_num_threads(2)
    media = make_media(tmp)
    folders = media.pop("folders")
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model("omniret-small", cache=False)  # the default model; no feature cache (else the
    load_s = time.perf_counter() - start  # second run would reuse the first's tower outputs and hints)
    index_time(model, folders["warm"], tmp / "db-warm", "on")  # warm-up: first calls, Whisper, PDFium
    plan = {"audio_off": ("audio", "off"), "audio_on": ("audio", "on"), "pdf": ("pdf", "auto"),
            "txt": ("txt", "auto")}  # fmt: skip
    runs: dict[str, dict] = {}
    for rep in range(repeats):  # interleaved, each into a fresh index: drift hits every run alike
        for name, (folder, transcripts) in plan.items():
            r = index_time(model, folders[folder], tmp / f"db-{name}-{rep}", transcripts)
            runs.setdefault(name, {**r, "all_seconds": []})["all_seconds"].append(r["seconds"])
    for r in runs.values():
        r["seconds"] = float(np.median(r["all_seconds"]))
    hints = model.model.config.hints
    return {"model": "omniret-small", "model_load_seconds": load_s, "repeats": repeats,
            "transcript_hints": bool(hints.enabled and hints.transcripts), **media, "runs": runs}  # fmt: skip


# ---------------------------------------------------------------- report


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--batch", type=int, default=10_000, help="rows per table.add while loading")
    ap.add_argument("--repeats", type=int, default=1, help="B: runs of each indexing job (median reported)")
    args = ap.parse_args()
    total = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        fts = fts_bench(args.rows, args.queries, args.batch, Path(tmp))
        idx = index_bench(Path(tmp), args.repeats)
    total_s = time.perf_counter() - total

    lat, inc = fts["latency"], fts["incremental"]
    print(f"P7 A: {fts['rows']:,} rows, dim {DIM}, keywords {fts['mean_words_per_row']:.0f} words/row on average "
          f"(corpus {fts['corpus']['tokens']:,} words, {fts['corpus']['distinct_lower']:,} distinct); "
          f"written in {fts['write_seconds']:.1f} s")  # fmt: skip
    mb = lambda b: f"{b / 2**20:.1f} MB"  # noqa: E731
    print(table(["step", "seconds", "FTS index size"], [
        ["ensure_fts (build, 100k rows)", fts["fts_build_seconds"], mb(fts["fts_after_build"]["size_bytes"])],
        ["first optimize (compact write batches)", fts["first_optimize_seconds"], "-"],
        ["add 1,000 rows (one commit)", inc["add_seconds"], f"{inc['fts_before_optimize']['unindexed_rows']} unindexed"],
        ["optimize (fold them into the index)", inc["optimize_seconds"], mb(inc["fts_after_optimize"]["size_bytes"])],
    ]))  # fmt: skip
    print(
        f"on disk: _indices {mb(fts['indices_dir_bytes'])} (all versions), data {mb(fts['data_dir_bytes'])}"
    )
    dense = lat["dense"]["p50_ms"]
    rows = [[m, lat[m]["p50_ms"], lat[m]["p99_ms"], lat[m]["max_ms"], f"{lat[m]['p50_ms'] / dense:.2f}x",
             f"{fts['mean_hits'][m]:.1f}"] for m in ("dense", "keyword", "hybrid")]  # fmt: skip
    rows += [["keyword, 1,000 rows not yet indexed", inc["keyword_with_1000_unindexed"]["p50_ms"],
              inc["keyword_with_1000_unindexed"]["p99_ms"], inc["keyword_with_1000_unindexed"]["max_ms"],
              f"{inc['keyword_with_1000_unindexed']['p50_ms'] / dense:.2f}x", "-"],
             ["keyword, after optimize", inc["keyword_after_optimize"]["p50_ms"], inc["keyword_after_optimize"]["p99_ms"],
              inc["keyword_after_optimize"]["max_ms"], f"{inc['keyword_after_optimize']['p50_ms'] / dense:.2f}x", "-"]]  # fmt: skip
    print(
        f"{fts['queries']} queries of 2-3 words (e.g. {fts['example_queries'][:3]}), top 10, via search_vector"
    )
    print(table(["mode", "p50 ms", "p99 ms", "max ms", "p50 vs dense", "hits"], rows))
    print(f"ratios (p50): hybrid/dense {lat['hybrid']['p50_ms'] / dense:.2f}x, keyword/dense "
          f"{lat['keyword']['p50_ms'] / dense:.2f}x; (p99): hybrid/dense "
          f"{lat['hybrid']['p99_ms'] / lat['dense']['p99_ms']:.2f}x")  # fmt: skip

    r = idx["runs"]
    off, on, pdf, txt = (r[k]["seconds"] for k in ("audio_off", "audio_on", "pdf", "txt"))
    audio_s = sum(idx["audio_seconds"])
    print(f"\nP7 B: {idx['model']} (loaded in {idx['model_load_seconds']:.1f} s, feature cache off, warmed up); "
          f"{len(idx['audio_seconds'])} spoken clips, {audio_s:.0f} s of speech "
          f"({min(idx['audio_seconds']):.0f}-{max(idx['audio_seconds']):.0f} s each); "
          f"3 PDFs, {idx['pdf_pages']} pages; median of {idx['repeats']} interleaved run(s)")  # fmt: skip
    each = lambda k: ", ".join(f"{t:.2f}" for t in r[k]["all_seconds"])  # noqa: E731
    print(table(["Index.add", "seconds", "each run", "rows", "rows with speech", "ratio"], [
        ["audio, transcripts off", off, each("audio_off"), r["audio_off"]["rows"], r["audio_off"]["rows_with_speech"], "1.00x"],
        ["audio, transcripts on", on, each("audio_on"), r["audio_on"]["rows"], r["audio_on"]["rows_with_speech"], f"{on / off:.2f}x"],
        ["same text as .txt", txt, each("txt"), r["txt"]["rows"], "-", "1.00x"],
        ["PDFs (page images + text)", pdf, each("pdf"), f"{r['pdf']['rows']} {r['pdf']['rows_by_modality']}", "-", f"{pdf / txt:.2f}x"],
    ]))  # fmt: skip
    if idx["transcript_hints"]:
        print("(the model reads Whisper transcript hints of every audio segment in both runs; transcripts on adds "
              "one timed Whisper pass per file, stored as speech and keywords)")  # fmt: skip
    print(f"transcripts: {100 * (on - off) / on:.0f}% of indexing time with them on "
          f"({on - off:.1f} s for {audio_s:.0f} s of speech, {audio_s / max(on - off, 1e-9):.1f}x real time); "
          f"PDF page images: {pdf - txt:.1f} s for {idx['pdf_pages']} pages "
          f"({(pdf - txt) / idx['pdf_pages']:.2f} s per page)")  # fmt: skip
    print(f"total {total_s:.0f} s")

    result = {"benchmark": "p7_text_search", "date": time.strftime("%Y-%m-%d"), "total_seconds": total_s,
              "fts": fts, "ratios": {"hybrid_over_dense_p50": lat["hybrid"]["p50_ms"] / dense,
                                     "keyword_over_dense_p50": lat["keyword"]["p50_ms"] / dense,
                                     "transcripts_on_over_off": on / off, "transcript_share": (on - off) / on,
                                     "pdf_over_txt": pdf / txt},
              "indexing": idx}  # fmt: skip
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
