"""Synthesising benchmark media: General-MIDI instrument renders (FluidSynth) and short videos (PyAV)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np

from omniret.datasets.sources import LOUDNESS, PITCHES, TEMPOS, soundfont

ARPEGGIO = [0, 4, 7, 12, 7, 4]  # semitones above the root


SLOT_SECONDS = 4.0  # each variant gets its own slot in one MIDI file: one FluidSynth start per program


def render_variants(
    program: int, variants: list[tuple[str, str, str]], outs: list[Path], *, rate: int = 16000
):
    """Render (pitch, tempo, loudness) arpeggios of one GM program to 16 kHz mono WAVs (reverb/chorus off).

    All variants go through a single FluidSynth run (loading the 148 MB soundfont dominates), each in
    its own 4 s slot, then are cut apart and trimmed of trailing silence.
    """
    import mido
    import soundfile as sf

    mid = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    mid.tracks.append(track)
    track.append(mido.MetaMessage("set_tempo", tempo=500_000))  # 480 ticks = 0.5 s
    track.append(mido.Message("program_change", program=program, time=0))
    slot_ticks = int(SLOT_SECONDS / 0.5 * 480)
    for pitch, tempo, loudness in variants:
        ticks = int(TEMPOS[tempo] / 0.5 * 480)
        for step in ARPEGGIO:
            note = PITCHES[pitch] + step
            track.append(mido.Message("note_on", note=note, velocity=LOUDNESS[loudness], time=0))
            track.append(mido.Message("note_off", note=note, velocity=0, time=ticks))
        track.append(mido.Message("note_off", note=0, velocity=0, time=slot_ticks - ticks * len(ARPEGGIO)))
    with tempfile.TemporaryDirectory() as tmp:
        midi, wav = Path(tmp) / "x.mid", Path(tmp) / "x.wav"
        mid.save(midi)
        subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.8", "-r", str(rate), "-F", str(wav),
                        str(soundfont()), str(midi)], check=True, capture_output=True)  # fmt: skip
        wave, sr = sf.read(wav, dtype="float32", always_2d=True)
    wave = wave.mean(1)
    slot = int(SLOT_SECONDS * sr)
    for i, out in enumerate(outs):
        piece = wave[i * slot : (i + 1) * slot]
        loud = np.flatnonzero(np.abs(piece) > 1e-3)
        piece = piece[: loud[-1] + 1] if loud.size else piece
        out.parent.mkdir(parents=True, exist_ok=True)
        sf.write(out, piece, sr, subtype="PCM_16")
    return outs


def make_video(images: list, wave: np.ndarray | None, out: Path, *, seconds_each: float = 1.0, fps: int = 8,
               size: int = 128) -> Path:  # fmt: skip
    """An mp4 (h264 + aac) showing each PIL image for ``seconds_each`` seconds over ``wave`` (16 kHz)."""
    import av

    out.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(out), "w") as container:
        v = container.add_stream("libx264", rate=fps)
        v.width = v.height = size
        v.pix_fmt = "yuv420p"
        v.thread_count = 1  # deterministic output
        v.options = {"g": str(fps), "preset": "veryfast", "crf": "28"}
        a = container.add_stream("aac", rate=16000, layout="mono") if wave is not None else None
        for img in images:
            frame = np.asarray(img.convert("RGB").resize((size, size)))
            for _ in range(int(fps * seconds_each)):
                for packet in v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                    container.mux(packet)
        for packet in v.encode(None):
            container.mux(packet)
        if a is not None:
            total = int(len(images) * seconds_each * 16000)
            track = np.resize(wave, total).astype(np.float32)  # loop the sound over the whole video
            for i in range(0, total, 1024):
                frame = av.AudioFrame.from_ndarray(track[i : i + 1024][None], format="flt", layout="mono")
                frame.sample_rate = 16000
                for packet in a.encode(frame):
                    container.mux(packet)
            for packet in a.encode(None):
                container.mux(packet)
    return out
