"""omniret.towers.efficientnet: EfficientNet-Lite0 as TensorFlow trained it (SAME padding, BN eps 1e-3),
laid out key for key like the packaged state dict. Pretrained accuracy is in test_packaged.py."""

from __future__ import annotations

import torch

from omniret.config import TowerConfig
from omniret.model import build_tower
from omniret.towers.efficientnet import STAGES, EfficientNetLite0, MBConv, SameConv2d


def test_efficientnet_lite0_without_weights_has_declared_shapes():
    v = build_tower(
        TowerConfig(kind="efficientnet-lite0", modality="vision", dim=1280, grid=(7, 7), image_size=224)
    )
    assert v(torch.randn(1, 3, 224, 224))[0].shape == (1, 49, 1280)


def test_same_padding_pads_the_bottom_right_more_as_tensorflow_does():
    """8 px, kernel 3, stride 2: ceil(8/2) = 4 outputs need 1 px of padding, all of it at the end, so
    output (0, 0) sums input rows and columns 0..2 (PyTorch's symmetric padding=1 would sum 0..1)."""
    conv = SameConv2d(1, 1, 3, stride=2, bias=False)
    torch.nn.init.ones_(conv.weight)
    x = torch.arange(64.0).reshape(1, 1, 8, 8)
    out = conv(x)
    assert out.shape == (1, 1, 4, 4)
    assert out[0, 0, 0, 0].item() == x[0, 0, :3, :3].sum().item()
    assert out[0, 0, 3, 3].item() == x[0, 0, 6:, 6:].sum().item()  # the padded corner: 2x2 real pixels
    odd = SameConv2d(1, 1, 3, stride=2, bias=False)(torch.randn(1, 1, 7, 7))
    assert odd.shape == (1, 1, 4, 4)  # ceil(7 / 2)


def test_blocks_follow_the_stage_table_with_skips_only_where_shapes_allow():
    net = EfficientNetLite0()
    assert len(net._blocks) == sum(r for r, *_ in STAGES) == 16
    assert [b.skip for b in net._blocks[:4]] == [False, False, True, False]  # 32->16, 16->24 s2, 24->24, s2
    assert not net._blocks[0].expand and net._blocks[1].expand  # the first stage has expansion 1
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    keys = net.state_dict().keys()
    assert "_blocks.0._depthwise_conv.weight" in keys and "_blocks.0._expand_conv.weight" not in keys
    assert {"_conv_stem.weight", "_conv_head.weight", "_fc.weight", "_bn1.running_mean"} <= set(keys)


def test_feature_map_is_the_input_over_32_and_logits_are_imagenet_sized():
    net = EfficientNetLite0().eval()
    x = torch.randn(1, 3, 64, 96)
    assert net.feature_map(x).shape == (1, 1280, 2, 3)
    assert net(x).shape == (1, 1000)


def test_mbconv_skip_adds_the_input():
    block = MBConv(c_in=8, c_out=8, expand=1, kernel=3, stride=1).eval()
    x = torch.randn(1, 8, 5, 5)
    torch.nn.init.zeros_(block._bn2.weight)  # the projected branch now outputs only its BN bias (0)
    assert torch.equal(block(x), x)
