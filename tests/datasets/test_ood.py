"""omniret.datasets.ood: the out-of-domain test set: layout, positives, no leakage from offline-v1,
determinism, licences."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from pathlib import Path

import pytest

from omniret.datasets import sources as offline_src
from omniret.datasets.ood import DOMAINS, OodBuilder, Source
from omniret.datasets.ood_sources import Item
from omniret.datasets.sources import SourceMissingError
from omniret.eval import load_tasks
from tests.datasets.conftest import png, tree_hashes

LIMIT = 6


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    outs = [tmp_path_factory.mktemp("ood_a"), tmp_path_factory.mktemp("ood_b")]
    manifests = [OodBuilder(out, limit=LIMIT, log=lambda *_: None).build() for out in outs]
    if not manifests[0]["tasks"]:
        pytest.skip("no OOD source package is installed (run `make system-deps` as root): "
                    + "; ".join(manifests[0]["skipped_sources"].values()))  # fmt: skip
    return outs[0], outs[1], manifests[0]


def test_layout_reads_back_and_every_query_has_a_positive(builds):
    root, _, manifest = builds
    tasks = load_tasks(root)
    assert {t.name for t in tasks} == set(manifest["tasks"]) and all(t.name.startswith("ood_") for t in tasks)
    for t in tasks:
        dids = {c.did for c in t.pool}
        assert t.queries and t.pool and len(dids) == len(t.pool)
        assert all(q.pos_cand_list and set(q.pos_cand_list) <= dids for q in t.queries), t.name
        assert all(q.instruction for q in t.queries), t.name
        assert t.group == manifest["tasks"][t.name]["group"]
        assert len(t.queries) == manifest["tasks"][t.name]["queries"]
        for x in [*t.queries, *t.pool]:
            for rel in (x.img_path, x.audio_path):
                assert rel is None or (root / rel).is_file()
    present = {n for n, s in manifest["sources"].items() if s["present"]}
    assert present and set(manifest["skipped_sources"]) == set(manifest["sources"]) - present


def test_two_builds_are_byte_identical(builds):
    a, b, _ = builds
    ha, hb = tree_hashes(a), tree_hashes(b)
    assert len(ha) > 20 and ha == hb


def _offline_files_by_size() -> dict[int, list[Path]]:
    """Every installed media file of offline-v1's sources, independently of the builder's own check."""
    roots = [offline_src.OPENCLIPART, offline_src.ASTERISK, offline_src.FASHION, offline_src.SOUNDFONT.parent]
    try:
        roots.append(offline_src.animal_sounds()["dog"].parent)
    except SourceMissingError:
        pass
    out: dict[int, list[Path]] = defaultdict(list)
    for root in roots:
        for f in root.rglob("*") if root.is_dir() else []:
            if f.is_file():
                out[f.stat().st_size].append(f)
    return out


def test_no_media_file_equals_an_offline_v1_source_file(builds):
    root, _, manifest = builds
    offline = _offline_files_by_size()
    if not offline:
        pytest.skip("no offline-v1 source package installed to compare against")
    media = [p for p in (root / "media").rglob("*") if p.is_file()]
    assert media
    for p in media:
        data = p.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        same = [f for f in offline.get(len(data), []) if hashlib.sha256(f.read_bytes()).hexdigest() == digest]
        assert not same, f"{p} equals offline-v1 source {same[0]}"
    items = [json.loads(line) for line in (root / "items.jsonl").read_text().splitlines()]
    assert {r["path"] for r in items} == {str(p.relative_to(root)) for p in media}
    assert all(hashlib.sha256((root / r["path"]).read_bytes()).hexdigest() == r["sha256"] for r in items)
    assert manifest["leakage"]["offline_files_checked"] == sum(len(v) for v in offline.values())


def test_licences_recorded_for_every_source_used(builds):
    root, _, manifest = builds
    items = [json.loads(line) for line in (root / "items.jsonl").read_text().splitlines()]
    used = {r["source"] for r in items} | {s for t in manifest["tasks"].values() for s in t["sources"]}
    for name in used:
        info = manifest["sources"][name]
        assert info["present"] and info["licence"].strip() and info["items"]
        assert "absent" not in info["version"], name
    assert manifest["version"] == "ood-v1" and manifest["recipe"]["max_items_per_domain"] >= LIMIT


def test_missing_package_is_skipped_and_offline_copies_are_excluded(tmp_path):
    """A source whose package is absent is skipped with its install command; a file equal to an
    offline-v1 source file is dropped, and so is a second copy of one file."""

    def missing(limit):
        raise SourceMissingError("/nowhere not found: install Debian package nope (apt-get install nope)")

    red, blue = png(tmp_path / "red.png", (255, 0, 0)), png(tmp_path / "blue.png", (0, 0, 255))
    items = [Item("icons", "image", "red square", "fake:red.png", ".png", red),
             Item("icons", "image", "blue square", "fake:blue.png", ".png", blue),
             Item("icons", "image", "red again", "fake:red-copy.png", ".png", data=red.read_bytes())]  # fmt: skip
    offline = next((f for fs in _offline_files_by_size().values() for f in fs), None)
    if offline is not None:
        items.append(Item("icons", "image", "leak", "fake:leak.png", ".png", offline))
    sources = [Source("gone", "nope", "debian", "none", missing),
               Source("fake", "pytest", "pypi", "CC0 (made by this test)", lambda limit: items)]  # fmt: skip
    logs: list[str] = []
    manifest = OodBuilder(tmp_path / "out", log=logs.append, sources=sources).build()
    assert "apt-get install nope" in manifest["skipped_sources"]["gone"]
    assert any("skipping source 'gone'" in line for line in logs)
    assert not manifest["sources"]["gone"]["present"] and manifest["sources"]["fake"]["present"]
    assert (
        manifest["tasks"]["ood_icons_t2i"]["queries"] == 2
        and manifest["tasks"]["ood_icons_i2t"]["queries"] == 2
    )
    assert [d["ref"] for d in manifest["leakage"]["excluded_as_duplicates"]] == ["fake:red-copy.png"]
    if offline is not None:
        assert manifest["leakage"]["excluded_as_leaks"] == [
            {"ref": "fake:leak.png", "offline_file": str(offline)}
        ]
    assert set(manifest["tasks"]) == {"ood_icons_t2i", "ood_icons_i2t"} and "icons" in DOMAINS
