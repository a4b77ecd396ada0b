"""``eval mbeir --engine ray``: the same records as one process, bad media listed the same way."""

from __future__ import annotations

import numpy as np
import pytest

from omniret.eval.harness import encode_skipping
from omniret.eval.ray_encode import RayEncodedModel
from omniret.eval.run import evaluate
from omniret.inputs import OmniInput
from omniret.models import load_model
from tests.helpers.builders import mbeir_fixture
from tests.helpers.ray_cluster import local_ray

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A local Ray whose workers see this module's feature cache."""
    tmp = tmp_path_factory.mktemp("ray-eval")
    with local_ray(tmp):
        yield tmp


def test_the_pool_encodes_in_order_and_lists_bad_media_like_one_process(cluster, ckpt, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    inputs = [OmniInput(text=f"note number {i}") for i in range(37)]
    inputs[5] = OmniInput(image=bad)
    model = load_model(ckpt, cache=False)
    want, want_bad = encode_skipping(model, inputs, batch_size=4)
    got, got_bad = RayEncodedModel(model, spec=str(ckpt), actors=2, cpus_per_actor=1.0).encode_skipping(
        inputs, batch_size=4)  # fmt: skip
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert list(got_bad) == list(want_bad) == [5] and "bad.png" in got_bad[5]


def test_eval_with_the_ray_engine_gives_the_embedded_records(cluster, ckpt, tmp_path):
    root = mbeir_fixture(tmp_path)
    one = evaluate([str(ckpt)], root, ks=[1, 5], cache_dir=tmp_path / "c1")[0].record
    pooled = evaluate([str(ckpt)], root, ks=[1, 5], cache_dir=tmp_path / "c2", engine="ray", actors=2)[
        0
    ].record
    assert set(pooled["tasks"]) == set(one["tasks"]) == {"toy_task0", "toy_task1"}
    for task, r in one["tasks"].items():
        assert pooled["tasks"][task]["metrics"] == pytest.approx(r["metrics"])
    with pytest.raises(ValueError, match="--engine must be one of embedded, ray"):
        evaluate([str(ckpt)], root, ks=[1], engine="spark")
