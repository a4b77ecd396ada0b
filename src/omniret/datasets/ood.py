"""``omniret bench build ood``: an out-of-domain test set from real offline sources offline-v1 never uses.

Why: the shipped model is trained on offline-v1 only (openclipart, Fashion-MNIST, Asterisk, FluidR3
renders, CC0 animal mp3s), so its scores there say little about media it has not seen. This set
reads other installed packages (``ood_sources.py``; licences in docs/LICENSES.md and manifest.json),
drops every file whose sha256 equals a file of the offline-v1 sources, and writes test tasks in the
M-BEIR layout (``query/test``, ``cand_pool/local``, ``instructions``) that ``omniret eval mbeir`` reads.

Deterministic: inputs are sorted, duplicates resolved in a fixed source order, domains capped by a
hash of each item's ref, no timestamps. A missing package skips its source with a warning naming
the install command; manifest.json records which sources were present, so a partial set is usable.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import shutil
import subprocess
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from omniret.datasets import ood_sources as osrc
from omniret.datasets import sources as offline_src
from omniret.datasets.builder import slug
from omniret.datasets.sources import SourceMissingError
from omniret.datasets.writer import write_instructions, write_jsonl, write_task

VERSION = "ood-v1"
MAX_PER_DOMAIN = 300


@dataclass(frozen=True)
class Source:
    name: str
    package: str  # the Debian or PyPI package that provides the files
    registry: str  # "debian" | "pypi"
    licence: str
    load: object  # callable(limit) -> list[Item]


SOURCES = [  # order resolves duplicates: the first source keeps a file that two of them ship
    Source("tuxpaint", "tuxpaint-stamps-default", "debian",
           "GPL-2 (debian/copyright: all stamps, images and sounds)", osrc.tuxpaint),
    Source("gcompris", "gcompris-qt-data", "debian",
           "GPL-3+ (package); photos Public Domain / CC0-1.0 / CC-BY-SA-4.0 per the README beside them "
           "(Wikimedia Commons, publicdomainpictures.net); memory-sound effects Free Art License 1.2", osrc.gcompris),
    Source("ktuberling", "ktuberling-data", "debian", "GPL-2+ (debian/copyright)", osrc.ktuberling),
    Source("freedesktop", "sound-theme-freedesktop", "debian",
           "per file CC-BY-SA-3.0, CC-BY-3.0, GPL-2+ or GPL-2 (debian/copyright)", osrc.freedesktop),
    Source("tango", "tango-icon-theme", "debian", "public domain", osrc.tango),
    Source("noto-emoji", "fonts-noto-color-emoji", "debian", "SIL OFL-1.1 (font), Apache-2.0 (images)",
           osrc.noto_emoji),
    Source("scikit-image", "scikit-image", "pypi",
           "per image CC0 / public domain / no known copyright restrictions (skimage.data docstrings)",
           osrc.skimage_photos),
    Source("pypi-sample-photos", "scikit-learn, matplotlib", "pypi",
           "china.jpg, flower.jpg CC-BY-2.0 (sklearn/datasets/images/README.txt); grace_hopper.jpg public "
           "domain (US Navy photograph)", osrc.pypi_sample_photos),
    Source("palapeli", "palapeli-data", "debian",
           "GPL-2+ (package); per photo Public Domain, GNU-FDL or FDL (X-KDE-PluginInfo-License)", osrc.palapeli),
    Source("mate-backgrounds", "mate-backgrounds", "debian", "GPL-2+ (debian/copyright)", osrc.mate_nature),
]  # fmt: skip

# domain -> (medium, first dataset id, what it is, prompts text->medium, prompts medium->text); the
# prompts are data, kept in ood_domains.json beside this file
DOMAINS = {
    d: (v["medium"], v["first_dataset_id"], v["what"], v["prompts_to_medium"], v["prompts_to_text"])
    for d, v in json.loads(
        resources.files("omniret.datasets").joinpath("ood_domains.json").read_text()
    ).items()
}
SHORT = {"text": "t", "image": "i", "audio": "a"}


def package_version(source: Source) -> str:
    """The installed version(s) of a source's package(s), for the manifest ('absent' when missing)."""
    versions = []
    for name in (p.strip() for p in source.package.split(",")):
        if source.registry == "pypi":
            try:
                versions.append(importlib.metadata.version(name))
            except importlib.metadata.PackageNotFoundError:
                versions.append("absent")
            continue
        try:
            out = subprocess.run(
                ["dpkg-query", "-W", "-f", "${Version}", name], capture_output=True, text=True
            )
            versions.append(out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "absent")
        except FileNotFoundError:  # no dpkg: not a Debian system
            versions.append("unknown")
    return ", ".join(versions)


class OfflineFiles:
    """sha256 look-up over every installed media file of offline-v1's sources (``sources.py`` paths).

    Files are indexed by size first, so only offline files of an OOD file's exact size are hashed.
    """

    def __init__(self) -> None:
        self.roots = [offline_src.OPENCLIPART, offline_src.ASTERISK, offline_src.FASHION,
                      offline_src.SOUNDFONT.parent]  # fmt: skip
        try:
            self.roots.append(next(iter(offline_src.animal_sounds().values())).parent)
        except SourceMissingError:
            pass
        self.present = [str(r) for r in self.roots if r.exists()]
        self.missing = [str(r) for r in self.roots if not r.exists()]
        self.by_size: dict[int, list[Path]] = defaultdict(list)
        for root in self.roots:
            for f in sorted(root.rglob("*")) if root.is_dir() else []:
                if f.is_file():
                    self.by_size[f.stat().st_size].append(f)
        self.count = sum(len(v) for v in self.by_size.values())
        self._hashes: dict[Path, str] = {}

    def match(self, data: bytes) -> Path | None:
        """The offline file with these exact bytes, if any."""
        digest = hashlib.sha256(data).hexdigest()
        for f in self.by_size.get(len(data), []):
            if f not in self._hashes:
                self._hashes[f] = hashlib.sha256(f.read_bytes()).hexdigest()
            if self._hashes[f] == digest:
                return f
        return None


class OodBuilder:
    """Loads every present source, drops leaks and duplicates, caps each domain and writes the tasks."""

    def __init__(
        self, out: Path, *, limit: int | None = None, log=print, sources: list[Source] | None = None
    ):
        self.out, self.limit, self.log = Path(out), limit, log
        self.sources = SOURCES if sources is None else sources
        self.counts: dict[str, dict] = {}

    def load(self) -> tuple[list[tuple[Source, object]], dict[str, str]]:
        items, skipped = [], {}
        for source in self.sources:
            try:
                found = source.load(self.limit)
            except SourceMissingError as err:
                skipped[source.name] = str(err)
                self.log(f"WARNING: skipping source '{source.name}': {err}")
                continue
            items += [(source, it) for it in found]
            self.log(f"  {source.name}: {len(found)} items")
        return items, skipped

    def screen(self, items: list) -> tuple[list, dict]:
        """Drop files equal (sha256) to an offline-v1 source file, then later copies of one file."""
        offline = OfflineFiles()
        kept, seen, leaks, dupes = [], {}, [], []
        for source, it in items:
            data = it.payload()
            digest = hashlib.sha256(data).hexdigest()
            hit = offline.match(data)
            if hit is not None:
                leaks.append({"ref": it.ref, "offline_file": str(hit)})
            elif digest in seen:
                dupes.append({"ref": it.ref, "same_as": seen[digest]})
            else:
                seen[digest] = it.ref
                kept.append((source, it, digest))
        report = {"method": "sha256 of the file bytes, compared with every installed file of the offline-v1 "
                            "sources of the same size", "offline_roots_checked": offline.present,
                  "offline_roots_missing": offline.missing, "offline_files_checked": offline.count,
                  "excluded_as_leaks": leaks, "excluded_as_duplicates": dupes}  # fmt: skip
        if leaks:
            self.log(f"  excluded {len(leaks)} file(s) that offline-v1 sources also ship")
        return kept, report

    def build(self) -> dict:
        self._clear_previous()
        self.out.mkdir(parents=True, exist_ok=True)
        loaded, skipped = self.load()
        kept, leakage = self.screen(loaded)
        by_domain: dict[str, list] = defaultdict(list)
        for source, it, digest in kept:
            by_domain[it.domain].append((source, it, digest))
        records, used = [], defaultdict(lambda: defaultdict(int))
        for domain in DOMAINS:
            chosen = _cap(by_domain.get(domain, []), domain)
            rows = [self._write(source, it, digest) for source, it, digest in chosen]
            for source, _, _ in chosen:
                used[source.name][domain] += 1
            records += rows
            if rows:
                self._tasks(domain, rows)
        write_jsonl(self.out / "items.jsonl", records)
        write_instructions(self.out, _instruction_rows())
        manifest = self._manifest(skipped, used, leakage)
        (self.out / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n")
        return manifest

    def _clear_previous(self) -> None:
        """A rebuild must not leave a task of a source that has since gone missing: remove what an
        earlier OOD build wrote (only when its manifest says it was one, so no other data is touched)."""
        manifest = self.out / "manifest.json"
        if not manifest.is_file() or json.loads(manifest.read_text()).get("version", "") != VERSION:
            return
        for name in ("query", "cand_pool", "instructions", "media"):
            shutil.rmtree(self.out / name, ignore_errors=True)
        for name in ("items.jsonl", "manifest.json"):
            (self.out / name).unlink(missing_ok=True)

    def _write(self, source: Source, it, digest: str) -> dict:
        """Copy the medium byte for byte (so its sha256 is the one screened) under media/DOMAIN/."""
        stem = Path(it.ref.split(":", 1)[1]).stem
        rel = f"media/{it.domain}/{source.name}-{slug(stem)[:40]}-{hashlib.md5(it.ref.encode()).hexdigest()[:6]}{it.suffix}"
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(it.payload())
        return {"path": rel, "domain": it.domain, "modality": it.modality, "text": it.text, "source": source.name,
                "ref": it.ref, "sha256": digest}  # fmt: skip

    def _tasks(self, domain: str, rows: list[dict]) -> None:
        """text->medium (pool: media; positives: every medium with that text) and medium->text (pool: texts)."""
        medium, base, _, _, _ = DOMAINS[domain]
        field = {"image": "img_path", "audio": "audio_path"}[medium]
        texts = sorted({r["text"] for r in rows})
        t2m_id, m2t_id = str(base), str(base + 1)
        media = [{"did": f"{t2m_id}:{i}", "modality": medium, field: r["path"]} for i, r in enumerate(rows)]
        pool_t = [{"did": f"{m2t_id}:{i}", "modality": "text", "txt": t} for i, t in enumerate(texts)]
        text_id = {t: p["did"] for t, p in zip(texts, pool_t, strict=True)}
        t2m = [{"qid": f"{t2m_id}:{i}", "query_modality": "text", "query_txt": t,
                "pos_cand_list": [m["did"] for m, r in zip(media, rows, strict=True) if r["text"] == t]}
               for i, t in enumerate(texts)]  # fmt: skip
        m2t = [{"qid": f"{m2t_id}:{i}", "query_modality": medium, f"query_{field}": r["path"],
                "pos_cand_list": [text_id[r["text"]]]} for i, r in enumerate(rows)]  # fmt: skip
        s = SHORT[medium]
        for name, queries, pool, group in ((f"ood_{domain}_t2{s}", t2m, media, f"T→{s.upper()}"),
                                           (f"ood_{domain}_{s}2t", m2t, pool_t, f"{s.upper()}→T")):  # fmt: skip
            write_task(self.out, name, "test", queries, pool)
            self.counts[name] = {"group": group, "domain": domain, "queries": len(queries), "candidates": len(pool),
                                 "sources": sorted({r["source"] for r in rows})}  # fmt: skip
            self.log(f"  {name}: {len(queries)} queries, {len(pool)} candidates")

    def _manifest(self, skipped: dict, used: dict, leakage: dict) -> dict:
        sources = {}
        for s in self.sources:
            sources[s.name] = {"package": s.package, "registry": s.registry, "version": package_version(s),
                               "licence": s.licence, "present": s.name not in skipped,
                               "items": dict(used.get(s.name, {}))}  # fmt: skip
        return {
            "version": VERSION,
            "limit": self.limit,
            "command": "omniret bench build ood --out OUT" + (f" --limit {self.limit}" if self.limit else ""),
            "recipe": {"max_items_per_domain": MAX_PER_DOMAIN, "emoji_max": osrc.EMOJI_MAX,
                       "cap_order": "md5('ood:<domain>:<ref>')", "domains": {d: v[2] for d, v in DOMAINS.items()},
                       "selection_rules": {s.name: " ".join((s.load.__doc__ or "").split()) for s in self.sources}},
            "sources": sources,
            "skipped_sources": skipped,
            "tasks": self.counts,
            "leakage": leakage,
            "media_sha256_list": "items.jsonl",
        }  # fmt: skip


def _cap(items: list, domain: str) -> list:
    """At most MAX_PER_DOMAIN items, chosen by a hash of the ref (not by content), then in ref order."""
    order = sorted(items, key=lambda x: hashlib.md5(f"ood:{domain}:{x[1].ref}".encode()).hexdigest())
    return sorted(order[:MAX_PER_DOMAIN], key=lambda x: x[1].ref)


def _instruction_rows() -> list[dict]:
    rows = []
    for domain, (medium, base, _, to_medium, to_text) in DOMAINS.items():
        rows.append({"query_modality": "text", "cand_modality": medium, "dataset_name": f"ood_{domain}",
                     "dataset_id": str(base), "prompts": to_medium})  # fmt: skip
        rows.append({"query_modality": medium, "cand_modality": "text", "dataset_name": f"ood_{domain}",
                     "dataset_id": str(base + 1), "prompts": to_text})  # fmt: skip
    return rows
