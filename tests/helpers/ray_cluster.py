"""A local Ray for one test module: 2 CPUs, a small object store, and the environment its workers need
(they inherit it when the cluster starts, so it is set before ``ray.init`` and restored after)."""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def local_ray(tmp, **env):
    import ray

    env = {"OMNIRET_CACHE_DIR": str(tmp / "cache"), "RAY_AUTH_MODE": "disabled", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **env}  # fmt: skip
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    try:
        yield tmp
    finally:
        ray.shutdown()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
