"""omniret.datasets.offline_tasks: each offline source's split rules, run on stand-in files (the real
sources are Debian packages; the whole build is tested in test_offline.py): a title or a prompt
falls on one side only, and clip art held out for the audio-visual tasks is never trained on."""

from __future__ import annotations

from omniret.datasets import offline_tasks as t
from omniret.datasets import sources
from omniret.datasets.builder import BuildState, is_test
from omniret.eval import load_tasks
from tests.datasets.conftest import png, wav


def names(prefix: str, namespace: str, percent: int, *, test: bool, n: int, suffix: str = "") -> list[str]:
    """The first ``n`` of prefix0, prefix1, ... that the hash split puts on the test (or train) side."""
    keys = (f"{prefix}{i}{suffix}" for i in range(500))
    return [k for k in keys if is_test(namespace, k, percent) == test][:n]


def pairs_of(b: BuildState, dataset: str) -> list[dict]:
    return [p for p in b.train if p["dataset"] == dataset]


def test_speech_splits_by_prompt_and_keeps_one_clip_per_transcript(tmp_path, monkeypatch):
    test_keys = names("prompt-", "ast", t.SPEECH_TEST_PERCENT, test=True, n=3)
    train_keys = names("prompt-", "ast", t.SPEECH_TEST_PERCENT, test=False, n=3)
    prompts = {k: (wav(tmp_path / "src" / f"{k}.wav", freq=200 + 50 * i), f"Sentence number {i}.")
               for i, k in enumerate(test_keys + train_keys)}  # fmt: skip
    twin = "prompt-zz"  # sorts after its twin: the same words again, never used
    prompts[twin] = (wav(tmp_path / "src" / "twin.wav"), prompts[train_keys[0]][1])
    monkeypatch.setattr(sources, "asterisk_prompts", lambda: prompts)
    b = BuildState(tmp_path / "out", log=lambda *_: None)
    t.speech(b)
    assert b.splits["speech_test_prompts"] == sorted(test_keys)
    trained = {p["query"].get("audio") or p["positive"]["audio"] for p in pairs_of(b, "speech")}
    assert trained == {f"media/speech/train/{k}.wav" for k in train_keys}  # both directions, no twin
    a2t = {task.name: task for task in load_tasks(b.out)}["offline_speech_a2t"]
    texts = {c.did: c.txt for c in a2t.pool}
    for q in a2t.queries:  # each clip's positive is its own transcript
        key = q.audio_path.rsplit("/", 1)[1].removesuffix(".wav")
        assert [texts[d] for d in q.pos_cand_list] == [prompts[key][1]]
    assert not set(texts.values()) & {p["positive"].get("text") for p in pairs_of(b, "speech")}


def test_clipart_splits_by_title_and_keeps_audio_visual_test_images_out_of_training(tmp_path, monkeypatch):
    titles = names("title ", "oc", 15, test=True, n=2) + names("title ", "oc", 15, test=False, n=2)
    held_dogs = names("dog-", "av", 50, test=True, n=2, suffix=".png")  # the audio-visual test half
    dogs = held_dogs + names("dog-", "av", 50, test=False, n=2, suffix=".png")
    (dog_title,) = names("a dog ", "oc", 15, test=False, n=1)  # trained on: its held-out images are skipped
    records, colour = [], iter(range(1, 255))
    for title in titles:
        for k in range(2):
            path = png(tmp_path / "oc" / f"{title.replace(' ', '_')}_{k}.png", (next(colour), 0, 0))
            records.append(sources.Clipart(path, title, "misc"))
    for name in dogs:  # 'dog' is an animal we have sounds of
        records.append(
            sources.Clipart(png(tmp_path / "oc" / name, (0, next(colour), 0)), dog_title, "animals")
        )
    monkeypatch.setattr(sources, "clipart", lambda: records)
    b = BuildState(tmp_path / "out", log=lambda *_: None)
    t.clipart(b)
    test_titles = set(b.splits["clipart_test_titles"])
    assert test_titles == set(titles[:2])
    trained_titles = {p["query"]["text"] for p in pairs_of(b, "clipart") if p["task"] == "TI"}
    assert trained_titles and not trained_titles & test_titles  # every image of a title on one side
    data = {p: (b.out / p).read_bytes() for p in {x["positive"].get("image") or x["query"]["image"]
                                                  for x in pairs_of(b, "clipart")}}  # fmt: skip
    held = {r.path.read_bytes() for r in records if r.path.name in held_dogs}
    assert len(b.splits["av_test_images"]) == 2 and not held & set(data.values())
    assert dog_title in trained_titles  # ... but its other images are trained on
    t2i = {task.name: task for task in load_tasks(b.out)}["offline_clipart_t2i"]
    for q in t2i.queries:  # the positive is one of that title's own images
        (pos,) = [c for c in t2i.pool if c.did in q.pos_cand_list]
        assert (b.out / pos.img_path).read_bytes() in {
            r.path.read_bytes() for r in records if r.title == q.txt
        }


def test_sound_labels_map_to_clip_art_keywords():
    sounds = {
        "gm:Violin": ["v.wav"],
        "gm:Fiddle": ["f.wav"],
        "gm:Celesta": ["c.wav"],
        "animal:dog": ["d.wav"],
    }
    assert dict(t._keyword_sounds(sounds)) == {
        "violin": ["f.wav", "v.wav"],
        "dog": ["d.wav"],
    }  # no Celesta art
    assert t.instrument_caption({"name": "Oboe", "pitch": "low", "tempo": "fast", "loudness": "soft"}) == (
        "Oboe playing low notes at a fast tempo, soft"
    )
    assert len(t.VARIANTS) == len(set(t.VARIANTS)) == 3 * 2 * 2  # pitch x tempo x loudness


def test_oversized_or_unreadable_clip_art_is_skipped(tmp_path, monkeypatch):
    ok = png(tmp_path / "ok.png", (1, 2, 3), size=10)
    assert t._fits(ok)
    monkeypatch.setattr(sources, "MAX_CLIPART_PIXELS", 99)
    assert not t._fits(ok)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert not t._fits(tmp_path / "bad.png")
