"""Whisper log-mel features in torch (any length: no padding to 30 s)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch

from omniret.inputs.recipes import AudioRecipe


@lru_cache(maxsize=4)
def _filters(n_fft: int, n_mels: int, sample_rate: int) -> torch.Tensor:
    from transformers.audio_utils import mel_filter_bank

    bank = mel_filter_bank(
        num_frequency_bins=1 + n_fft // 2,
        num_mel_filters=n_mels,
        min_frequency=0.0,
        max_frequency=sample_rate / 2,
        sampling_rate=sample_rate,
        norm="slaney",
        mel_scale="slaney",
    )
    return torch.from_numpy(bank.T.astype(np.float32))  # (n_mels, n_freq)


def log_mel(wave: np.ndarray, recipe: AudioRecipe) -> torch.Tensor:
    """16 kHz mono wave (n,) -> Whisper log-mel (n_mels, n // hop), scaled to about [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32))
    if x.numel() < recipe.n_fft:
        x = torch.nn.functional.pad(x, (0, recipe.n_fft - x.numel()))
    window = torch.hann_window(recipe.n_fft)
    stft = torch.stft(x, recipe.n_fft, recipe.hop_length, window=window, return_complex=True)
    power = stft[:, :-1].abs() ** 2  # (n_freq, frames); Whisper drops the last frame
    mel = _filters(recipe.n_fft, recipe.n_mels, recipe.sample_rate) @ power
    logm = mel.clamp(min=1e-10).log10()
    logm = torch.maximum(logm, logm.max() - 8.0)
    return (logm + 4.0) / 4.0
