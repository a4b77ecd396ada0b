import pytest
import torch

from omniret.model import SeparateMediaResamplers, SharedMediaResampler, interpolate_video
from omniret.model.resampler import sinusoid_table


def make(**kw):
    args = dict(
        dim=32,
        num_latents=5,
        modalities=("image", "audio", "video"),
        heads=2,
        dim_head=16,
        video_grid=(2, 3, 3),
    )
    args.update(kw)
    return SharedMediaResampler(**args)


@pytest.mark.parametrize("kv_include_latents", [True, False])
def test_output_shape(kv_include_latents):
    r = make(kv_include_latents=kv_include_latents)
    assert r(torch.randn(3, 11, 32), "image").shape == (3, 5, 32)


def test_padding_tokens_change_nothing():
    r = make().eval()
    x = torch.randn(2, 6, 32)
    padded = torch.cat([x, 100 * torch.randn(2, 4, 32)], dim=1)
    mask = torch.tensor([[True] * 6 + [False] * 4] * 2)
    torch.testing.assert_close(r(padded, "audio", mask), r(x, "audio"), atol=1e-5, rtol=1e-5)


def test_modality_latents_are_added_to_shared_latents():
    r = make()
    torch.testing.assert_close(r.queries("audio"), r.latents + r.modality_latents["audio"])
    x = torch.randn(1, 6, 32)
    assert not torch.allclose(r(x, "image"), r(x, "audio"))
    plain = make(modality_latents=False)
    torch.testing.assert_close(plain.queries("audio"), plain.latents)
    with pytest.raises(ValueError, match="unknown modality 'smell'"):
        r(x, "smell")


def test_init_modality_from_copies_latents():
    r = make()
    assert not torch.equal(r.modality_latents["video"], r.modality_latents["image"])
    r.init_modality_from("video", "image")
    assert torch.equal(r.modality_latents["video"], r.modality_latents["image"])


def test_separate_resamplers_and_their_stage2_init():
    r = SeparateMediaResamplers(
        dim=32, num_latents=5, modalities=("image", "video"), heads=2, dim_head=16, video_grid=(2, 3, 3)
    )
    x = torch.randn(2, 6, 32)
    assert r(x, "image").shape == (2, 5, 32)
    assert not torch.allclose(r(x, "video"), r(x, "image"))  # independent weights before the copy
    r.init_modality_from("video", "image")
    torch.testing.assert_close(r(x, "video"), r(x, "image"))


def test_frame_embeddings_start_as_sinusoid_table():
    r = make()
    torch.testing.assert_close(r.frame_embed.detach(), sinusoid_table(2, 32))
    table = sinusoid_table(4, 6)
    assert table[0].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0, 1.0]  # sin(0), cos(0)


def test_video_grid_path():
    r = make()
    grid = torch.randn(2, 8, 4, 4, 32)  # (B, T, H, W, D)
    assert r(grid, "video").shape == (2, 5, 32)
    with pytest.raises(ValueError, match="video input"):
        r(grid, "image")


def test_trilinear_interpolation_values():
    # A grid linear in t stays linear after resizing T=8 -> T'=4 (align_corners=False: cell centres).
    t = torch.arange(8.0)[None, :, None, None, None].expand(1, 8, 2, 2, 1)
    out = interpolate_video(t, (4, 2, 2))
    assert out.shape == (1, 4, 2, 2, 1)
    torch.testing.assert_close(out[0, :, 0, 0, 0], torch.tensor([0.5, 2.5, 4.5, 6.5]))
    same = torch.randn(1, 4, 2, 2, 3)
    assert interpolate_video(same, (4, 2, 2)) is same
