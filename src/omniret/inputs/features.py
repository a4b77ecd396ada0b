"""Raw media -> frozen-tower tokens, through the feature cache.

Each source is read once and hashed; on a cache hit it is never decoded and its tower never
runs. Misses are decoded, preprocessed by the tower's recipe, run through the tower in batches
and stored. Tokens pass through float16 on both paths, so a hit and a miss give identical tokens.
"""

from __future__ import annotations

import hashlib
import os
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch

from omniret.config import MediaConfig
from omniret.inputs.cache import FeatureCache
from omniret.inputs.media import MediaTooLargeError, load_audio, load_image, load_video, read_bytes, to_pixels
from omniret.inputs.media.audio import AudioSpan, audio_duration
from omniret.inputs.media.mel import log_mel
from omniret.inputs.media.source import describe, file_digest
from omniret.inputs.media.video import video_duration
from omniret.inputs.recipes import recipe_hash
from omniret.towers import Tower

IMAGE_BATCH = 32
_DIGESTS: OrderedDict[tuple, str] = OrderedDict()  # file identity -> sha256, so windows hash a file once


def source_id(src) -> tuple[str, object, str]:
    """(content hash, payload to decode, display name) for a path, bytes, PIL image, array, (array, rate)
    or ``AudioSpan`` (its file's hash plus the span: a window of a long recording is keyed on its own).

    A file is hashed by streaming (memoised on its inode, size and times, so the windows of one long
    recording hash it once) and stays on disk as the payload: decoding a span of it seeks instead of
    reading it whole. The hash is the SHA-256 of its bytes, as always, so cache keys do not change."""
    if isinstance(src, AudioSpan):
        h, payload, name = source_id(src.source)
        key = _hash(h, "span", repr((float(src.t0), float(src.t1))))
        return key, AudioSpan(payload, src.t0, src.t1), name
    if isinstance(src, tuple) and len(src) == 2 and isinstance(src[0], np.ndarray):
        arr = np.ascontiguousarray(src[0])
        return _hash(arr.tobytes(), str(arr.shape), str(arr.dtype), str(src[1])), src, "<array>"
    if isinstance(src, np.ndarray):
        arr = np.ascontiguousarray(src)
        return _hash(arr.tobytes(), str(arr.shape), str(arr.dtype)), src, "<array>"
    if hasattr(src, "tobytes") and hasattr(src, "mode"):  # PIL image
        return _hash(src.tobytes(), src.mode, str(src.size)), src, "<image>"
    if isinstance(src, (str, os.PathLike)):
        path = os.fspath(src)
        return _file_hash(path), path, describe(src)
    data = read_bytes(src)
    return hashlib.sha256(data).hexdigest(), data, describe(src)


def _file_hash(path: str) -> str:
    try:
        st = os.stat(path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    except OSError:
        key = None  # file_digest names the problem
    if key is not None and key in _DIGESTS:
        _DIGESTS.move_to_end(key)
        return _DIGESTS[key]
    digest, _ = file_digest(path)
    if key is not None:
        _DIGESTS[key] = digest
        while len(_DIGESTS) > 256:
            _DIGESTS.popitem(last=False)
    return digest


def _hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p if isinstance(p, bytes) else p.encode())
    return h.hexdigest()


def _round(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float16).to(torch.float32)


class FeatureExtractor:
    """Turns sources into tower tokens: image (N, d), audio (N, d), video frames (T, N, d) + track."""

    def __init__(self, towers: dict[str, Tower], media: MediaConfig, cache: FeatureCache | None) -> None:
        self.towers, self.media, self.cache = towers, media, cache

    # ------------------------------------------------------------- generic cached batch

    def _cached(self, tower: Tower, keyed: list[tuple[str, object, str]], extra: dict, compute: Callable):
        """keyed: (content hash, payload, name). compute(list of (payload, name)) -> list of tensors."""
        use_cache = self.cache is not None and bool(tower.tower_id)
        rhash = recipe_hash(tower.recipe, extra)
        keys = [FeatureCache.key(h, tower.tower_id, rhash) for h, _, _ in keyed]
        found: dict[str, torch.Tensor] = {}
        if use_cache:
            for k in dict.fromkeys(keys):
                hit = self.cache.get(k)
                if hit is not None:
                    found[k] = hit["tokens"].float()
        todo = {k: (p, n) for k, (_, p, n) in zip(keys, keyed, strict=True) if k not in found}
        if todo:
            for k, tokens in zip(todo, compute(list(todo.values())), strict=True):
                found[k] = _round(tokens)
                if use_cache:
                    self.cache.put(k, {"tokens": tokens})
        return [found[k] for k in keys]

    # ------------------------------------------------------------- per modality

    def images(self, sources: list, *, names: list[str] | None = None) -> list[torch.Tensor]:
        tower = self.towers["vision"]
        keyed = self._keyed(sources, names)

        def compute(items):
            pixels = [to_pixels(self._image(p, n), tower.recipe) for p, n in items]
            return list(self._run_images(tower, torch.stack(pixels)))

        return self._cached(tower, keyed, {}, compute)

    def audios(self, sources: list, *, span=None, names: list[str] | None = None) -> list[torch.Tensor]:
        """Audio tokens; with ``span`` only [t0, t1] of each source is decoded (after a seek when the file
        is long), and a span over ``media.max_audio_seconds`` is refused before anything is read."""
        tower = self.towers["audio"]
        keyed = self._keyed(sources, names)
        if span is not None:
            self._check_span(span, [n for *_, n in keyed])
        return self._cached(tower, keyed, {"span": span}, lambda items: self._run_audio(tower, [
            self._audio(p, n, span) for p, n in items
        ]))  # fmt: skip

    def videos(self, sources: list, *, span=None, names: list[str] | None = None):
        """-> list of (frame tokens (T, N, d), audio-track tokens (N, d) or None).

        When the audio track is encoded, a video (or span) longer than ``media.max_audio_seconds`` is
        refused before decoding, as audio is: ``omniret index`` cuts long videos into moments instead."""
        vision = self.towers["vision"]
        keyed = self._keyed(sources, names)
        clips: dict[str, object] = {}  # decoded once per call, shared by the frame and track passes
        m = self.media
        want_audio = m.video_audio != "off" and "audio" in self.towers
        if want_audio:
            self._check_video_length(keyed, span)
        frame_extra = {"frames": m.max_frames, "sampling": m.frame_sampling, "span": span}

        def clip(payload, name):
            key = id(payload)
            if key not in clips:
                t0, t1 = span or (None, None)
                clips[key] = load_video(payload, max_frames=m.max_frames, sampling=m.frame_sampling,
                                        start=t0, end=t1, with_audio=want_audio, name=name)  # fmt: skip
            return clips[key]

        def frames(items):
            out = []
            for p, n in items:
                pixels = torch.stack([to_pixels(f, vision.recipe) for f in clip(p, n).frames])
                out.append(self._run_images(vision, pixels))  # (T, N, d)
            return out

        frame_tokens = self._cached(vision, keyed, frame_extra, frames)
        if not want_audio:
            return [(f, None) for f in frame_tokens]
        audio = self.towers["audio"]

        def track(items):
            waves = [clip(p, n).audio for p, n in items]
            present = [w for w in waves if w is not None and w.size >= 160]
            tokens = iter(self._run_audio(audio, present)) if present else iter(())
            return [
                next(tokens) if w is not None and w.size >= 160 else torch.zeros(0, audio.dim) for w in waves
            ]

        tracks = self._cached(audio, keyed, {**frame_extra, "track": True}, track)
        return [(f, a if a.shape[0] else None) for f, a in zip(frame_tokens, tracks, strict=True)]

    # ------------------------------------------------------------- helpers

    @staticmethod
    def _keyed(sources, names):
        keyed = [source_id(s) for s in sources]
        if names is not None:
            keyed = [(h, p, n) for (h, p, _), n in zip(keyed, names, strict=True)]
        return keyed

    def _image(self, payload, name):
        return load_image(payload, max_pixels=self.media.max_image_pixels, name=name)

    def _audio(self, payload, name, span=None):
        return load_audio(payload, max_seconds=self.media.max_audio_seconds, name=name, span=span)

    def _check_span(self, span, names: list[str]) -> None:
        limit = self.media.max_audio_seconds
        if not (span[1] - span[0] <= limit):  # also an infinite span
            raise MediaTooLargeError(names[0] if names else "<input>", f"span {span[0]:g}-{span[1]:g} s is "
                                     f"{span[1] - span[0]:.0f} s long, over the {limit:.0f} s limit of one encode "
                                     "(media.max_audio_seconds)")  # fmt: skip

    def _check_video_length(self, keyed, span) -> None:
        """Refuse, before decoding, a video whose audio track would exceed one encode's limit."""
        if span is not None:
            self._check_span(span, [n for *_, n in keyed])
            return
        limit = self.media.max_audio_seconds
        for _, payload, name in keyed:
            seconds = video_duration(payload)
            if seconds is not None and seconds > limit and audio_duration(payload) is not None:
                raise MediaTooLargeError(name, f"video is {seconds:.0f} s, so its audio track is over the "
                                         f"{limit:.0f} s limit of one encode (media.max_audio_seconds); use "
                                         f"spans of at most {limit:.0f} s, or index the file: the index cuts "
                                         "it into moments")  # fmt: skip

    @staticmethod
    @torch.no_grad()
    def _run_images(tower: Tower, pixels: torch.Tensor) -> torch.Tensor:
        return torch.cat([tower(pixels[i : i + IMAGE_BATCH])[0] for i in range(0, len(pixels), IMAGE_BATCH)])

    @staticmethod
    @torch.no_grad()
    def _run_audio(tower: Tower, waves: list[np.ndarray]) -> list[torch.Tensor]:
        out = []
        for wave in waves:  # one clip at a time: lengths differ and the CT2 encoder loops anyway
            mel = log_mel(wave, tower.recipe)  # (n_mels, F)
            tokens, mask = tower(mel[None], torch.tensor([mel.shape[-1]]))
            out.append(tokens[0] if mask is None else tokens[0][mask[0]])
        return out
