"""The offline benchmark's sources, one function each (see ``offline.py`` for the contract)."""

from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

from omniret.datasets import sources as src
from omniret.datasets.acm import Clip, acm_tasks, build_acm, default_embedders, rel_path
from omniret.datasets.builder import BuildState as OfflineBuilder
from omniret.datasets.builder import is_test, slug, stable_order
from omniret.datasets.render import make_video, render_variants
from omniret.inputs.media import load_audio

CLIPART_TEST_PERCENT, CLIPART_POOL = 15, 500
SPEECH_TEST_PERCENT, GM_TEST_PERCENT = 25, 25
FASHION_POOL_PER_CLASS, FASHION_TRAIN_PER_CLASS, FASHION_CIR_QUERIES = 50, 200, 200


def clipart(b: OfflineBuilder) -> None:
    """Titles <-> images. Split by title group: all images of a title fall on one side (docs/METHOD_NOTES.md)."""
    by_title: dict[str, list] = defaultdict(list)
    records = src.clipart()
    for c in records:
        by_title[c.title].append(c)
    av_test = _audio_visual_images(b, records)
    test_titles = [t for t in sorted(by_title) if is_test("oc", t, CLIPART_TEST_PERCENT)]
    test_titles = b.cap(stable_order(test_titles, "oc")[:CLIPART_POOL])
    b.splits["clipart_test_titles"] = sorted(test_titles)
    b.clipart_test = {}
    pool, t2i, i2t = [], [], []
    for title in sorted(test_titles):
        c = sorted(by_title[title], key=lambda x: str(x.path))[0]
        if not _fits(c.path):
            continue
        rel = b.copy(c.path, f"media/clipart/test/{slug(title)}.png")
        b.clipart_test[title] = rel
        pool.append({"did": f"100:{len(pool)}", "modality": "image", "img_path": rel})
        t2i.append({"query_modality": "text", "query_txt": title, "pos_cand_list": [pool[-1]["did"]]})
    texts = [{"did": f"101:{i}", "modality": "text", "txt": t} for i, t in enumerate(b.clipart_test)]
    for i, (_title, rel) in enumerate(b.clipart_test.items()):
        i2t.append({"query_modality": "image", "query_img_path": rel, "pos_cand_list": [texts[i]["did"]]})
    b.task("clipart_t2i", "100", t2i, pool)
    b.task("clipart_i2t", "101", i2t, texts)
    train_titles = b.cap(
        [t for t in sorted(by_title) if t not in set(test_titles) and not is_test("oc", t, 15)]
    )
    b.clipart_train = {}
    for title in train_titles:
        for k, c in enumerate(sorted(by_title[title], key=lambda x: str(x.path))[:3]):
            if c.path in av_test or not _fits(c.path):
                continue
            rel = b.copy(c.path, f"media/clipart/train/{slug(title)}-{k}.png")
            b.clipart_train.setdefault(title, []).append(rel)
            b.pair("clipart", "TI", {"text": title}, {"image": rel}, f"clipart:{title}")
            b.pair("clipart", "IT", {"image": rel}, {"text": title}, f"clipart:{title}")


def _audio_visual_images(b: OfflineBuilder, records: list) -> set:
    """Clip art showing an animal or instrument we have sounds of, split 50/50 by file for the A<->I tasks.

    Returns the source paths of the test half, which the title tasks must not train on.
    """
    keywords = sorted(set(src.ANIMALS) | {k for _, k in src.GM_PROGRAMS.values() if k})
    test_paths = set()
    for c in records:
        kw = next(
            (k for k in keywords if any(re.search(rf"\b{w}s?\b", c.title) for w in ANIMAL_WORDS.get(k, [k]))),
            None,
        )
        if kw is None or not _fits(c.path):
            continue
        side = "test" if is_test("av", c.path.name, 50) else "train"
        rel = b.copy(c.path, f"media/av/{side}/{slug(kw)}-{slug(c.path.stem)}.png")
        (b.av_test_images if side == "test" else b.av_train_images).setdefault(kw, []).append(rel)
        if side == "test":
            test_paths.add(c.path)
    b.splits["av_test_images"] = sorted(p for v in b.av_test_images.values() for p in v)
    return test_paths


def _fits(path) -> bool:
    """Skip the few openclipart PNGs over 16 MP (some exceed Pillow's decompression-bomb limit)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return im.width * im.height <= src.MAX_CLIPART_PIXELS
    except (Image.DecompressionBombError, OSError):
        return False


def fashion(b: OfflineBuilder) -> None:
    """Class names -> images, and composed (image, change request) -> image of the requested class."""
    from PIL import Image

    images, labels = src.fashion_mnist("t10k")
    per_class = b.limit // 10 + 1 if b.limit else FASHION_POOL_PER_CLASS
    pool, ref_idx = [], defaultdict(list)
    taken = defaultdict(int)
    for i, y in enumerate(labels.tolist()):
        if i < 5000 and taken[y] < per_class:
            rel = f"media/fashion/test/{i:05d}.png"
            Image.fromarray(images[i]).save(b.media(rel))
            pool.append({"did": f"102:{len(pool)}", "modality": "image", "img_path": rel, "label": int(y)})
            taken[y] += 1
        elif i >= 5000:
            ref_idx[int(y)].append(i)
    b.splits["fashion_test_pool_indices"] = [int(p["img_path"][-9:-4]) for p in pool]
    by_label = defaultdict(list)
    for p in pool:
        by_label[p.pop("label")].append(p["did"])
    t2i = [{"query_modality": "text", "query_txt": src.FASHION_CLASSES[y], "pos_cand_list": by_label[y]}
           for y in range(10)]  # fmt: skip
    b.task("fashion_t2i", "102", t2i, pool)
    rng = np.random.default_rng(0)
    cir = []
    for _ in range(b.limit or FASHION_CIR_QUERIES):
        a, c = rng.choice(10, size=2, replace=False).tolist()
        i = int(rng.choice(ref_idx[a]))
        rel = f"media/fashion/ref/{i:05d}.png"
        Image.fromarray(images[i]).save(b.media(rel))
        cir.append({"query_modality": "image,text", "query_img_path": rel, "pos_cand_list": by_label[c],
                    "query_txt": f"Change it into a {src.FASHION_CLASSES[c]}."})  # fmt: skip
    cir_pool = [dict(p, did=p["did"].replace("102:", "111:")) for p in pool]
    for q in cir:
        q["pos_cand_list"] = [d.replace("102:", "111:") for d in q["pos_cand_list"]]
    b.task("fashion_cir", "111", cir, cir_pool)
    _fashion_train(b, rng)


def _fashion_train(b: OfflineBuilder, rng) -> None:
    from PIL import Image

    images, labels = src.fashion_mnist("train")
    per_class = b.limit or FASHION_TRAIN_PER_CLASS
    chosen = {y: np.flatnonzero(labels == y)[:per_class] for y in range(10)}
    paths = {}
    for y, idx in chosen.items():
        for i in idx.tolist():
            paths[i] = f"media/fashion/train/{i:05d}.png"
            Image.fromarray(images[i]).save(b.media(paths[i]))
            b.pair("fashion", "TI", {"text": src.FASHION_CLASSES[y]}, {"image": paths[i]}, f"fashion:{y}")
    for y, idx in chosen.items():
        for i in idx.tolist()[: per_class // 2]:
            c = int(rng.choice([k for k in range(10) if k != y]))
            target = paths[int(rng.choice(chosen[c]))]
            b.pair("fashion_cir", "(I,T)I", {"image": paths[i], "text": f"Change it into a {src.FASHION_CLASSES[c]}."},
                   {"image": target}, f"fashion:{c}")  # fmt: skip


def speech(b: OfflineBuilder) -> None:
    """Asterisk studio prompts <-> their human transcripts; one clip per transcript, split by prompt name."""
    prompts = src.asterisk_prompts()
    by_text: dict[str, str] = {}
    for key in sorted(prompts):
        by_text.setdefault(prompts[key][1], key)
    test = b.cap([k for k in sorted(by_text.values()) if is_test("ast", k, SPEECH_TEST_PERCENT)])
    b.splits["speech_test_prompts"] = sorted(test)
    clips = [{"did": f"104:{i}", "modality": "audio", "audio_path": b.copy(prompts[k][0], f"media/speech/test/{k}.wav")}
             for i, k in enumerate(test)]  # fmt: skip
    texts = [{"did": f"103:{i}", "modality": "text", "txt": prompts[k][1]} for i, k in enumerate(test)]
    a2t = [{"query_modality": "audio", "query_audio_path": c["audio_path"], "pos_cand_list": [t["did"]]}
           for c, t in zip(clips, texts, strict=True)]  # fmt: skip
    t2a = [{"query_modality": "text", "query_txt": t["txt"], "pos_cand_list": [c["did"]]}
           for c, t in zip(clips, texts, strict=True)]  # fmt: skip
    b.task("speech_a2t", "103", a2t, texts)
    b.task("speech_t2a", "104", t2a, clips)
    for k in b.cap([k for k in sorted(by_text.values()) if k not in set(test)]):
        rel = b.copy(prompts[k][0], f"media/speech/train/{k}.wav")
        b.pair("speech", "AT", {"audio": rel}, {"text": prompts[k][1]}, f"speech:{k}")
        b.pair("speech", "TA", {"text": prompts[k][1]}, {"audio": rel}, f"speech:{k}")


VARIANTS = [(p, t, v) for p in src.PITCHES for t in src.TEMPOS for v in src.LOUDNESS]


def instruments(b: OfflineBuilder) -> None:
    """General-MIDI renders with known (instrument, pitch, tempo, loudness); split by unseen instrument."""
    programs = b.cap(sorted(src.GM_PROGRAMS))
    test = [p for p in programs if is_test("gm", src.GM_PROGRAMS[p][0], GM_TEST_PERCENT)]
    b.splits["instrument_test_programs"] = [src.GM_PROGRAMS[p][0] for p in test]
    b.instrument_clips = []
    for p in programs:
        name, keyword = src.GM_PROGRAMS[p]
        side = "test" if p in test else "train"
        outs = [b.media(f"media/instruments/{side}/{p:03d}-{'-'.join(v)}.wav") for v in VARIANTS]

        render_variants(p, VARIANTS, outs)
        for v, out in zip(VARIANTS, outs, strict=True):
            rel = str(out.relative_to(b.out))
            clip = {"program": p, "name": name, "keyword": keyword, "pitch": v[0], "tempo": v[1], "loudness": v[2],
                    "audio": rel, "side": side}  # fmt: skip
            b.instrument_clips.append(clip)
            label = f"gm:{name}"
            b.label_text[label] = name
            (b.sounds_test if side == "test" else b.sounds_train)[label].append(rel)
            if side == "train":
                b.pair("sounds", "AT", {"audio": rel}, {"text": name}, label)
                b.pair("sounds", "TA", {"text": name}, {"audio": rel}, label)


def animals(b: OfflineBuilder) -> None:
    """CC0 animal recordings cut into 2 s windows: first half of each recording trains, second half tests."""
    import soundfile as sf

    for animal, path in src.animal_sounds().items():
        wave = load_audio(path)
        starts = list(range(0, max(1, len(wave) - 32000 + 1), 16000))
        label = f"animal:{animal}"
        b.label_text[label] = f"a {animal}"
        for k, s in enumerate(starts):
            side = "train" if k < len(starts) / 2 else "test"
            rel = f"media/animals/{side}/{animal}-{k:02d}.wav"
            sf.write(b.media(rel), wave[s : s + 32000], 16000, subtype="PCM_16")
            (b.sounds_test if side == "test" else b.sounds_train)[label].append(rel)
            if side == "train":
                b.pair("sounds", "AT", {"audio": rel}, {"text": f"a {animal}"}, label)
                b.pair("sounds", "TA", {"text": f"a {animal}"}, {"audio": rel}, label)
    b.splits["animal_test_windows"] = sorted(
        p for k, v in b.sounds_test.items() if k.startswith("animal") for p in v
    )


def sound_tasks(b: OfflineBuilder) -> None:
    """Non-speech audio <-> label text over the test instruments (4 renders each) and animal windows."""
    labels = sorted(b.sounds_test)
    texts = [
        {"did": f"105:{i}", "modality": "text", "txt": b.label_text[lab]} for i, lab in enumerate(labels)
    ]
    clips, owner = [], []
    for lab in labels:
        for rel in b.sounds_test[lab][:: 3 if lab.startswith("gm:") else 1]:
            clips.append({"did": f"106:{len(clips)}", "modality": "audio", "audio_path": rel})
            owner.append(lab)
    a2t = [{"query_modality": "audio", "query_audio_path": c["audio_path"], "pos_cand_list": [texts[labels.index(o)]["did"]]}
           for c, o in zip(clips, owner, strict=True)]  # fmt: skip
    t2a = [{"query_modality": "text", "query_txt": t["txt"],
            "pos_cand_list": [c["did"] for c, o in zip(clips, owner, strict=True) if o == lab]}
           for t, lab in zip(texts, labels, strict=True)]  # fmt: skip
    b.task("sounds_a2t", "105", a2t, texts)
    b.task("sounds_t2a", "106", t2a, clips)


ANIMAL_WORDS = {a: [a] for a in src.ANIMALS} | {"rooster": ["rooster", "cock", "hen", "chicken"]}


def _keyword_sounds(sounds: dict[str, list[str]]) -> dict[str, list[str]]:
    """Sound label -> the keyword used to find matching clip art ('gm:Violin' and 'gm:Fiddle' -> 'violin')."""
    out: dict[str, list[str]] = defaultdict(list)
    for label, paths in sorted(sounds.items()):
        kind, name = label.split(":", 1)
        keyword = (
            name if kind == "animal" else next((k for n, k in src.GM_PROGRAMS.values() if n == name), None)
        )
        if keyword:
            out[keyword].extend(paths)
    return out


def audio_visual(b: OfflineBuilder) -> None:
    """Sound <-> clip art of the same animal or instrument, and videos of clip art over the matching sound."""
    from PIL import Image

    sounds = _keyword_sounds(b.sounds_test)
    keys = [k for k in sorted(sounds) if b.av_test_images.get(k)]
    b.splits["av_test_keywords"] = keys
    images = {k: b.av_test_images[k] for k in keys}
    pool = [
        {"did": f"107:{i}", "modality": "image", "img_path": p}
        for i, p in enumerate(p for k in keys for p in images[k])
    ]
    img_ids = {k: [c["did"] for c in pool if c["img_path"] in images[k]] for k in keys}
    a2i = [
        {"query_modality": "audio", "query_audio_path": s, "pos_cand_list": img_ids[k]}
        for k in keys
        for s in sounds[k][:4]
    ]
    clips = [(k, s) for k in keys for s in sounds[k][:8]]
    apool = [{"did": f"108:{i}", "modality": "audio", "audio_path": s} for i, (_, s) in enumerate(clips)]
    i2a = [{"query_modality": "image", "query_img_path": c["img_path"],
            "pos_cand_list": [a["did"] for a, (kk, _) in zip(apool, clips, strict=True) if kk == k]}
           for k in keys for c in pool if c["did"] in img_ids[k]]  # fmt: skip
    if a2i:
        b.task("av_a2i", "107", a2i, pool)
        b.task("av_i2a", "108", i2a, apool)
    videos = []
    for k in keys:
        for j, s in enumerate(sounds[k][:3]):
            frames = [Image.open(b.out / images[k][(j + f) % len(images[k])]) for f in range(3)]
            rel = f"media/video/test/{slug(k)}-{j}.mp4"
            make_video(frames, _wave(b, s), b.media(rel))
            videos.append((k, rel))
    texts = [{"did": f"109:{i}", "modality": "text", "txt": _keyword_text(k)} for i, k in enumerate(keys)]
    vpool = [{"did": f"110:{i}", "modality": "video", "video_path": rel} for i, (_, rel) in enumerate(videos)]
    v2t = [{"query_modality": "video", "query_video_path": rel, "pos_cand_list": [texts[keys.index(k)]["did"]]}
           for k, rel in videos]  # fmt: skip
    t2v = [{"query_modality": "text", "query_txt": t["txt"],
            "pos_cand_list": [v["did"] for v, (kk, _) in zip(vpool, videos, strict=True) if kk == k]}
           for t, k in zip(texts, keys, strict=True)]  # fmt: skip
    if v2t:
        b.task("video_v2t", "109", v2t, texts)
        b.task("video_t2v", "110", t2v, vpool)
    _audio_visual_train(b)


def _keyword_text(keyword: str) -> str:
    return f"a {keyword}"


def _wave(b: OfflineBuilder, rel: str) -> np.ndarray:

    return load_audio(b.out / rel)


def _audio_visual_train(b: OfflineBuilder) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    sounds = _keyword_sounds(b.sounds_train)
    for k in sorted(sounds):
        imgs = b.av_train_images.get(k, [])
        if not imgs:
            continue
        for s in sounds[k]:
            img = imgs[int(rng.integers(len(imgs)))]
            b.pair("av", "AI", {"audio": s}, {"image": img}, f"kw:{k}")
            b.pair("av", "IA", {"image": img}, {"audio": s}, f"kw:{k}")
        for j, s in enumerate(sounds[k][:4]):
            frames = [Image.open(b.out / imgs[(j + f) % len(imgs)]) for f in range(3)]
            rel = f"media/video/train/{slug(k)}-{j}.mp4"
            make_video(frames, _wave(b, s), b.media(rel))
            b.pair("video", "VT", {"video": rel}, {"text": _keyword_text(k)}, f"kw:{k}")
            b.pair("video", "TV", {"text": _keyword_text(k)}, {"video": rel}, f"kw:{k}")


def instrument_caption(c: dict) -> str:
    return f"{c['name']} playing {c['pitch']} notes at a {c['tempo']} tempo, {c['loudness']}"


def instrument_acm(b: OfflineBuilder) -> None:
    """Composed (audio, change text) -> audio, built with the ACM algorithm on renders with known attributes."""

    for side in ("test", "train"):
        rows = [c for c in b.instrument_clips if c["side"] == side]
        if len(rows) < 6:
            continue
        clips = [Clip(id=f"{side}-{i}", audio=str(b.out / c["audio"]), caption=instrument_caption(c),
                      attributes={"instrument": c["name"], "pitch": c["pitch"], "tempo": c["tempo"],
                                  "loudness": c["loudness"]}) for i, c in enumerate(rows)]  # fmt: skip
        caption_embed, audio_embed = default_embedders()
        triplets, stats = build_acm(
            clips, caption_embed=caption_embed, audio_embed=audio_embed, window=ACM_WINDOW
        )
        b.acm_stats[side] = vars(stats)
        if side == "test":
            queries, pool = acm_tasks(triplets, root=b.out)
            b.task("instruments_acm", "112", queries, pool)
        else:
            for t in triplets:
                for target, text in t["targets"]:
                    b.pair("instruments_acm", "(A,T)A", {"audio": rel_path(t["query"].audio, b.out), "text": text},
                           {"audio": rel_path(target.audio, b.out)}, target.id)  # fmt: skip


ACM_WINDOW = (0.6, 0.9)  # templated captions are closer than free-form ones; see docs/RESULTS.md
