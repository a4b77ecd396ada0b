"""omniret.inputs.streams: an input becomes one sample per stream; late-fused streams are averaged back."""

import torch

from omniret.inputs import OmniInput, Sample
from omniret.inputs.streams import audio_size, fuse_streams


def test_fuse_streams_averages_each_inputs_unit_vectors_and_renormalises():
    emb = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])  # input 0: two streams; input 1: one
    groups = [[Sample(text="a"), Sample(text="a")], [Sample(text="b")]]
    fused = fuse_streams(emb, groups)
    s = 2**-0.5
    torch.testing.assert_close(fused, torch.tensor([[s, s], [0.6, 0.8]]))


def test_audio_size_orders_by_samples_span_or_bytes(tmp_path):
    import numpy as np

    f = tmp_path / "x.wav"
    f.write_bytes(b"\0" * 1234)
    assert audio_size(OmniInput(text="t")) == 0.0
    assert audio_size(OmniInput(audio=(np.zeros(500, np.float32), 16000))) == 500.0
    assert audio_size(OmniInput(audio=np.zeros(700, np.float32))) == 700.0
    assert audio_size(OmniInput(audio=f, span=(1.0, 3.0))) == 32000.0  # 2 s at 16 kHz
    assert audio_size(OmniInput(audio=f)) == 1234.0
