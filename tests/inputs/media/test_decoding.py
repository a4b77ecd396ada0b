import numpy as np
import pytest
from PIL import Image

from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
    load_audio,
    load_image,
    load_video,
    sniff,
    to_pixels,
)
from omniret.inputs.recipes import ImageRecipe
from tests.helpers.media import dominant_frequency, png_bytes, sine, write_audio, write_video

# ------------------------------------------------------------------ images


def test_alpha_is_composited_on_white_and_modes_become_rgb(tmp_path):
    rgba = Image.new("RGBA", (8, 8), (255, 0, 0, 0))  # fully transparent red
    assert load_image(png_bytes(rgba)).getpixel((0, 0)) == (255, 255, 255)
    half = Image.new("RGBA", (8, 8), (0, 0, 0, 128))
    assert load_image(half).getpixel((0, 0)) == (127, 127, 127)
    for mode in ("L", "LA", "P", "CMYK", "I;16", "1"):
        img = Image.new(mode, (4, 4))
        path = tmp_path / f"x_{mode.replace(';', '')}.{'jpg' if mode == 'CMYK' else 'png'}"
        img.save(path) if mode != "LA" else img.save(path, format="PNG")
        out = load_image(path)
        assert out.mode == "RGB" and out.size == (4, 4), mode


def test_exif_orientation_is_applied(tmp_path):
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert load_image(tmp_path / "r.jpg").size == (20, 40)


def test_arrays_and_pixels_recipe():
    arr = np.zeros((30, 50, 3), np.uint8)
    arr[..., 0] = 255
    x = to_pixels(load_image(arr), ImageRecipe(size=16))
    assert x.shape == (3, 16, 16)
    assert x[0].min() == pytest.approx(1.0) and x[1].max() == pytest.approx(-1.0)  # [-1, 1] scaling


def test_image_errors_name_the_file(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.png: file is empty"):
        load_image(tmp_path / "empty.png")
    good = png_bytes(Image.new("RGB", (64, 64), (1, 2, 3)))
    (tmp_path / "cut.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(CorruptMediaError, match=r"cut\.png: damaged or truncated"):
        load_image(tmp_path / "cut.png")
    (tmp_path / "noise.jpg").write_bytes(bytes(range(256)) * 4)
    with pytest.raises(UnsupportedMediaError, match=r"noise\.jpg"):
        load_image(tmp_path / "noise.jpg")
    with pytest.raises(UnreadableMediaError, match="file not found"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(UnreadableMediaError, match="is a directory"):
        load_image(tmp_path)
    with pytest.raises(MediaTooLargeError, match="pixel limit"):
        load_image(good, max_pixels=100)
    wav = write_audio(tmp_path / "sound.jpg.wav", sine(440, 0.1, 8000), 8000).read_bytes()
    (tmp_path / "sound.jpg").write_bytes(wav)  # mislabelled: audio content with an image extension
    with pytest.raises(WrongModalityError, match=r"sound\.jpg: expected an image but the content is audio"):
        load_image(tmp_path / "sound.jpg")


# ------------------------------------------------------------------ audio


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3", ".m4a"])
def test_audio_round_trip_to_16k_mono(tmp_path, suffix):
    path = write_audio(
        tmp_path / f"tone{suffix}", sine(440, 2.0, 44100, channels=2 if suffix != ".mp3" else 1), 44100
    )
    wave = load_audio(path)
    assert wave.dtype == np.float32 and wave.ndim == 1
    assert abs(len(wave) / 16000 - 2.0) < 0.1  # codecs may pad a few ms
    assert dominant_frequency(wave, 16000) == pytest.approx(440, abs=3)
    rms = np.sqrt((wave[2000:-2000] ** 2).mean())
    assert rms == pytest.approx(0.5 / np.sqrt(2), rel=0.1)  # amplitude 0.5 survives decoding and resampling


def test_audio_arrays_and_resampling():
    wave = load_audio((sine(1000, 1.0, 8000), 8000))
    assert len(wave) == 16000 and dominant_frequency(wave, 16000) == pytest.approx(1000, abs=2)
    with pytest.raises(EmptyMediaError):
        load_audio(np.zeros(0, np.float32))
    with pytest.raises(CorruptMediaError, match="NaN"):
        load_audio(np.array([0.0, np.nan], np.float32))


def test_audio_errors_name_the_file(tmp_path):
    path = write_audio(tmp_path / "long.wav", sine(440, 1.0, 16000), 16000)
    data = path.read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptMediaError, match=r"cut\.wav: truncated"):
        load_audio(tmp_path / "cut.wav")
    with pytest.raises(MediaTooLargeError, match=r"long\.wav: audio is 1 s"):
        load_audio(path, max_seconds=0.5)
    (tmp_path / "pic.wav").write_bytes(png_bytes(Image.new("RGB", (4, 4))))
    with pytest.raises(WrongModalityError, match=r"pic\.wav: expected audio but the content is an image"):
        load_audio(tmp_path / "pic.wav")
    (tmp_path / "junk.mp3").write_bytes(b"\xff\xfb" + bytes(1000))
    with pytest.raises(MediaError, match=r"junk\.mp3"):
        load_audio(tmp_path / "junk.mp3")


# ------------------------------------------------------------------ video

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def _close(pixel, colour, tol=12):
    return all(abs(a - b) <= tol for a, b in zip(pixel, colour, strict=True))


def test_video_uniform_frames_timestamps_and_audio(tmp_path):
    path = write_video(tmp_path / "rgb.mp4", COLOURS)
    clip = load_video(path, max_frames=3)
    assert clip.duration == pytest.approx(3.0, abs=0.05)
    assert clip.timestamps == pytest.approx([0.5, 1.5, 2.5], abs=0.06)
    assert all(_close(f.getpixel((10, 10)), c) for f, c in zip(clip.frames, COLOURS, strict=True))
    assert dominant_frequency(clip.audio, 16000) == pytest.approx(440, abs=3)
    assert abs(len(clip.audio) / 16000 - 3.0) < 0.15


def test_video_span_audio_comes_from_that_span_alone(tmp_path):
    """A moment's audio is decoded after a seek (not the whole track each time): one second per tone."""
    from PIL import Image

    from omniret.datasets.render import make_video

    tones = [440.0, 880.0, 1320.0, 660.0]
    wave = np.concatenate([sine(f, 1.0, 16000) for f in tones])
    frames = [Image.new("RGB", (32, 32), (i * 60, 0, 0)) for i in range(len(tones))]
    path = make_video(frames, wave, tmp_path / "tones.mp4", seconds_each=1.0, fps=10, size=32)
    for i, f in enumerate(tones[1:], 1):
        clip = load_video(path, max_frames=1, start=i + 0.1, end=i + 0.9)
        assert len(clip.audio) / 16000 == pytest.approx(0.8, abs=0.03)
        assert dominant_frequency(clip.audio, 16000) == pytest.approx(f, abs=15)
        from_bytes = load_video(path.read_bytes(), max_frames=1, start=i + 0.1, end=i + 0.9)
        np.testing.assert_allclose(from_bytes.audio, clip.audio)  # path (streamed) and bytes agree


def test_file_digest_streams_and_names_bad_files(tmp_path):
    import hashlib

    from omniret.inputs.media.source import file_digest

    data = np.random.default_rng(0).bytes(3 * 1024 * 1024 + 17)
    (tmp_path / "big.bin").write_bytes(data)
    digest, head = file_digest(tmp_path / "big.bin", chunk=1 << 20)
    assert digest == hashlib.sha256(data).hexdigest() and head == data[:4096]
    (tmp_path / "empty.bin").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.bin: file is empty"):
        file_digest(tmp_path / "empty.bin")
    with pytest.raises(UnreadableMediaError, match=r"missing\.bin: file not found"):
        file_digest(tmp_path / "missing.bin")
    with pytest.raises(MediaTooLargeError, match="over the 1000-byte limit"):
        file_digest(tmp_path / "big.bin", max_bytes=1000)


def test_video_span_keyframes_and_cap(tmp_path):
    path = write_video(tmp_path / "rgb.mp4", COLOURS)
    span = load_video(path, max_frames=2, start=1.0, end=2.0)
    assert all(1.0 <= t <= 2.0 for t in span.timestamps) and all(
        _close(f.getpixel((5, 5)), COLOURS[1]) for f in span.frames
    )
    assert abs(len(span.audio) / 16000 - 1.0) < 0.05
    keys = load_video(path, max_frames=8, sampling="keyframe")
    assert keys.timestamps == pytest.approx([0.0, 1.0, 2.0], abs=0.01)  # one keyframe per second
    assert len(load_video(path, max_frames=2, sampling="keyframe").frames) == 2
    silent = load_video(write_video(tmp_path / "silent.mp4", COLOURS[:1], tone=None), max_frames=4)
    assert silent.audio is None and len(silent.frames) == 4


def test_video_errors_name_the_file(tmp_path):
    path = write_video(tmp_path / "ok.mp4", COLOURS)
    data = path.read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[:200])
    with pytest.raises(MediaError, match=r"cut\.mp4"):
        load_video(tmp_path / "cut.mp4")
    wav = write_audio(tmp_path / "a.wav", sine(440, 0.2, 16000), 16000)
    with pytest.raises(WrongModalityError, match=r"a\.wav: expected a video but the content is audio"):
        load_video(wav)
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(EmptyMediaError, match=r"empty\.mp4"):
        load_video(tmp_path / "empty.mp4")


def test_sniff_by_content():
    assert sniff(png_bytes(Image.new("RGB", (2, 2)))) == "image"
    assert sniff(b"RIFF\x00\x00\x00\x00WAVEfmt ") == "audio"
    assert sniff(b"\x00\x00\x00\x18ftypmp42") == "container"
    assert sniff("héllo wörld\n".encode()) == "text"
    assert sniff(bytes(range(256))) is None


def test_a_stream_whose_frames_change_format_rate_and_layout_is_resampled_whole():
    """A damaged MP3 (the corpus of tests/inputs/media/test_corpus.py found it) switches sample format, rate
    and layout between frames; one libswresample context refuses that, so each change gets a new one."""
    import av

    from omniret.inputs.media.pcm import MonoResampler

    def frame(wave: np.ndarray, fmt: str, layout: str, rate: int):
        f = av.AudioFrame.from_ndarray(wave, format=fmt, layout=layout)
        f.sample_rate = rate
        return f

    a = (sine(440.0, 1.0, 16000) * 32767).astype(np.int16)[None]  # s16 mono, 1 s at 16 kHz
    b = np.stack([sine(1000.0, 1.0, 22050)] * 2)  # fltp stereo, 1 s at 22.05 kHz
    r = MonoResampler(rate=16000)
    chunks = r.push(frame(a, "s16", "mono", 16000)) + r.push(frame(b, "fltp", "stereo", 22050)) + r.flush()
    wave = np.concatenate(chunks)
    assert abs(len(wave) - 32000) <= 64  # both seconds, at the target rate
    assert abs(dominant_frequency(wave[1000:15000], 16000) - 440) < 5
    assert abs(dominant_frequency(wave[17000:31000], 16000) - 1000) < 5
    assert r.flush() == []


def test_a_container_tag_that_is_not_utf8_does_not_stop_decoding(tmp_path):
    """PyAV decodes container metadata strictly; one damaged ID3 title made every reader fail with a
    bare UnicodeDecodeError before any stream was read (found by tests/inputs/media/test_corpus.py)."""
    import av

    from omniret.index.files import detect, duration

    path = tmp_path / "tagged.mp3"
    wave = sine(440.0, 1.0, 16000)
    with av.open(str(path), "w", format="mp3") as out:
        out.metadata["title"] = "TITLEMARK"
        stream = out.add_stream("mp3", rate=16000, layout="mono")
        for i in range(0, len(wave), 1152):
            frame = av.AudioFrame.from_ndarray(wave[None, i : i + 1152], format="flt", layout="mono")
            frame.sample_rate = 16000
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    data = path.read_bytes()
    assert data.count(b"TITLEMARK") == 1
    path.write_bytes(data.replace(b"TITLEMARK", b"TI\xae\xb0LEMRK"))  # same length: offsets unchanged
    with pytest.raises(UnicodeDecodeError):
        av.open(str(path))  # the trap, still there in PyAV's default
    got = load_audio(path)
    assert abs(len(got) - 16000) <= 1152 and abs(dominant_frequency(got, 16000) - 440) < 5
    assert detect(path, data[:64]) == "audio" and 0.9 < duration(path, "audio", len(data)) < 1.2
