"""The words collections: held-out prompts only, prompt spans and subtitle times by hand."""

from __future__ import annotations

import itertools
import json

import pytest

from omniret.datasets.builder import is_test
from omniret.datasets.offline_tasks import SPEECH_TEST_PERCENT
from omniret.datasets.words import GAP_SECONDS, _srt_time, build_speech, build_subtitles, held_out_prompts
from tests.helpers.builders import ASTERISK


def test_srt_times():
    assert _srt_time(0.8) == "00:00:00,800"
    assert _srt_time(3725.0456) == "01:02:05,046"


@pytest.mark.skipif(not ASTERISK.is_dir(), reason="needs Debian asterisk-core-sounds-en-wav")
def test_only_held_out_prompts_are_used_and_their_spans_follow_the_audio(tmp_path):
    import soundfile as sf

    prompts = held_out_prompts()
    assert prompts and all(is_test("ast", k, SPEECH_TEST_PERCENT) for k, _, _ in prompts)  # never trained on
    assert len({t for _, _, t in prompts}) == len(prompts) and all(len(t.split()) >= 3 for _, _, t in prompts)
    group = prompts[:6]
    queries = build_speech(tmp_path, group)
    assert [q["query"] for q in queries] == [t for _, _, t in group]
    wave, rate = sf.read(tmp_path / "recording-00.wav")
    assert queries[0]["t0"] == GAP_SECONDS
    for a, b in itertools.pairwise(queries):
        assert b["t0"] == pytest.approx(a["t1"] + GAP_SECONDS, abs=2e-3)
    assert len(wave) / rate == pytest.approx(queries[-1]["t1"] + GAP_SECONDS, abs=2e-3)


@pytest.mark.skipif(not ASTERISK.is_dir(), reason="needs Debian asterisk-core-sounds-en-wav")
def test_subtitles_carry_the_transcripts_at_the_prompt_spans(tmp_path):
    from omniret.index.speech import read_subtitles

    group = held_out_prompts()[:6]
    queries = build_subtitles(tmp_path, group)
    cues = read_subtitles(tmp_path / "talk-00.srt")
    assert [(c.start, c.end, c.text) for c in cues] == [
        (pytest.approx(q["t0"], abs=1e-3), pytest.approx(q["t1"], abs=1e-3), " ".join(q["query"].split()))
        for q in queries]  # fmt: skip
    assert json.dumps(queries)  # plain JSON
