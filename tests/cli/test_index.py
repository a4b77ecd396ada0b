"""``omniret index | search`` (``cli/index.py``; delete, stats, calibrate: ``test_manage.py``): options parsed and checked
before an index is opened or a model loaded, and what the commands print. Their refusals of a bad
index or filter: ``test_refusals.py``; prune and roots: ``tests/index/test_prune.py``, ``test_roots.py``."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from omniret.cli.index import _parse_video
from omniret.cli.main import app
from tests.helpers.builders import refused


def run(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def test_an_index_built_from_a_checkpoint_dir_is_searched_without_naming_it_again(
    tmp_path, ckpt, monkeypatch
):
    """The index records where its model came from: `omniret search` without --model loads that
    checkpoint (before, it looked for a preset named like the directory and failed)."""
    pytest.importorskip("lancedb")
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "a.txt").write_text("espresso and a croissant\n")
    (folder / "b.txt").write_text("the train to the coast\n")
    db = tmp_path / "db"
    run = CliRunner().invoke(app, ["index", str(folder), "--db", str(db), "--model", str(ckpt), "--quiet"])
    assert run.exit_code == 0, run.output
    assert json.loads((db / "omniret.json").read_text())["model_source"] == str(ckpt.resolve())
    found = CliRunner().invoke(app, ["search", "espresso", "--db", str(db), "--json", "-k", "2"])
    assert found.exit_code == 0, found.output
    named = CliRunner().invoke(app, ["search", "espresso", "--db", str(db), "--json", "-k", "2",
                                     "--model", str(ckpt)])  # fmt: skip
    assert named.exit_code == 0 and json.loads(named.output) == json.loads(found.output)
    uris = {h["uri"] for h in json.loads(found.output)["hits"]}
    assert uris == {str(folder / "a.txt"), str(folder / "b.txt")}


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("clip.mp4@12-20", ("clip.mp4", (12.0, 20.0))),
        ("clip.mp4@1.5-2.25", ("clip.mp4", (1.5, 2.25))),
        ("dir@home/clip.mp4@0-10", ("dir@home/clip.mp4", (0.0, 10.0))),  # the last '@' starts the moment
        ("clip.mp4", ("clip.mp4", None)),
        ("me@host.mp4", ("me@host.mp4", None)),  # no '-' after the '@': a file name
        ("clip.mp4@a-b", ("clip.mp4@a-b", None)),  # not numbers: left to the existence check
    ],
)
def test_a_video_query_may_name_a_moment(spec, parsed):
    assert _parse_video(spec) == parsed


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--meta", "album"], ["--meta 'album' must look like key=value"]),
        (["--video-segments", "scenes"], ["--video-segments must be one of fixed, shots, not 'scenes'"]),
        (["--build-ann", "--target-recall", "1.5"], ["--target-recall must be a recall in (0, 1], not 1.5"]),
        (["--dry-run"], ["--dry-run previews what --prune would delete"]),
        (["--allow-outside-roots"], ["--allow-outside-roots only widens --follow-links"]),
    ],
)
def test_index_options_are_refused_before_a_model_is_loaded_or_the_db_made(tmp_path, args, words):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("a note\n")
    out = run("index", tmp_path / "notes", "--db", tmp_path / "db", "--model", "no-such-model", *args)
    refused(out, 2, *words)  # the model name would be refused too, had it been loaded
    assert not (tmp_path / "db").exists()


def test_search_options_are_checked_before_the_index_is_opened(tmp_path):
    missing = tmp_path / "db"  # never opened: each option is refused first
    refused(run("search", "x", "--db", missing, "--calibration", "maybe"), 2, "--calibration must be one of",
            "'maybe'")  # fmt: skip
    refused(run("search", "x", "--db", missing, "-k", "0"), 2, "-k must be a positive number")
    refused(run("search", "x", "--db", missing, "--group-by", "file"), 2, "--group-by must be one of asset")
    refused(run("search", "x", "--db", missing, "--modality", "pictures"), 2, "'pictures' is not a modality")
    assert not missing.exists()


def test_search_prints_one_ranked_line_per_hit(db, fake_model):
    """The fake query (1, 0) against make_db's rows: a1 scores 1.000, t1 0.800."""
    out = run("search", "x", "--db", db, "-k", "2", "--calibration", "off")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("2 results (exact, calibration off")
    assert lines[1:] == ["  1. 1.000  image  a1", "  2. 0.800  text   t1"]
    hits = json.loads(run("search", "x", "--db", db, "-k", "2", "--calibration", "off", "--json").output)[
        "hits"
    ]
    assert [(h["uri"], round(h["score"], 6), h["calibrated_score"]) for h in hits] == [("a1", 1.0, None),
                                                                                        ("t1", 0.8, None)]  # fmt: skip


def test_help_names_every_option_of_the_index_commands():
    for cmd, options in {
        "index": ["--db", "--model", "--meta", "--prune", "--dry-run", "--build-ann", "--target-recall",
                  "--batch-files", "--video-segments", "--quiet", "--lock-timeout", "--no-verify", "--follow-links",
                  "--allow-outside-roots", "--storage-option"],
        "search": ["--image", "--audio", "--video", "--instruction", "--db", "--model", "-k", "--modality",
                   "--where", "--group-by", "--calibration", "--json", "--no-verify", "--storage-option"],
        "delete": ["--where", "--db", "--lock-timeout", "--storage-option"],
        "stats": ["--db", "--storage-option"],
        "calibrate": ["--db", "--lock-timeout", "--storage-option"],
    }.items():  # fmt: skip
        out = CliRunner().invoke(app, [cmd, "--help"], terminal_width=200)
        assert out.exit_code == 0, out.output
        missing = [o for o in options if f" {o} " not in out.output and f" {o}," not in out.output]
        assert not missing, (cmd, missing)


def test_keyword_and_hybrid_search_show_pages_and_record_the_fusion(tmp_path, ckpt, monkeypatch):
    from tests.helpers.pdf import make_pdf, text_content

    pytest.importorskip("lancedb")
    monkeypatch.setenv("OMNIRET_CACHE_DIR", str(tmp_path / "cache"))
    docs = tmp_path / "docs"
    docs.mkdir()
    make_pdf(
        docs / "report.pdf", [text_content("Harbour traffic grew."), text_content("The quarterly budget.")]
    )
    (docs / "note.txt").write_text("lemon cake\n")
    db = tmp_path / "db"
    out = run("index", docs, "--db", db, "--model", ckpt, "--quiet", "--transcripts", "off")
    assert out.exit_code == 0, out.output
    out = run("search", "budget", "--db", db, "--mode", "keyword")
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("1 results (keyword (bm25), calibration off")
    assert lines[1].endswith("text   " + str(docs / "report.pdf") + " p.2  “The quarterly budget.”")
    out = run("search", "budget", "--db", db, "--mode", "hybrid", "--json", "-k", "3")
    data = json.loads(out.output)
    assert data["ranking"] == {"mode": "hybrid", "fusion": "rrf", "rrf_k": 60, "candidates": 100}
    assert data["hits"][0]["page"] == 2 and data["hits"][0]["keyword_score"] > 0


@pytest.mark.parametrize(("args", "words"), [
    (["search", "x", "--mode", "fuzzy"], ["--mode must be one of dense, keyword, hybrid"]),
    (["search", "--image", "a.png", "--mode", "keyword"], ["--mode keyword ranks by words"]),
    (["search", "x", "--rerank", "--rerank-top", "0"], ["--rerank-top must be a positive number"]),
    (["index", ".", "--transcripts", "maybe"], ["--transcripts must be one of auto, on, off"]),
])  # fmt: skip
def test_text_search_options_are_refused_before_anything_is_opened(tmp_path, args, words):
    refused(run(*args, "--db", tmp_path / "none"), 2, *words)
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize(("args", "words"), [
    (["--engine", "spark"], ["--engine must be one of embedded, ray"]),
    (["--actors", "2"], ["--address, --actors and --gpus-per-actor go with --engine ray"]),
    (["--engine", "ray", "--actors", "0"], ["--actors must be >= 1"]),
])  # fmt: skip
def test_engine_options_are_refused_before_anything_is_opened(tmp_path, args, words):
    refused(run("index", tmp_path, "--db", tmp_path / "none", *args), 2, *words)
    assert not (tmp_path / "none").exists()
