"""The JSON API: OpenAI-compatible embeddings and models, search, ingest jobs and deletion."""

from __future__ import annotations

import asyncio
import base64
from typing import Any, Literal

import numpy as np
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict

from omniret.index.filters import quote
from omniret.inputs import OmniInput
from omniret.inputs.modality import MEDIA_NAMES
from omniret.serve.inputs import RequestError, parse_inputs, parse_item
from omniret.serve.media import ASSET_ID
from omniret.serve.service import Service
from omniret.serve.uploads import allowed_paths, forget, save_uploads, stored_path

router = APIRouter()
KNOWN = ("/v1/embeddings", "/v1/models", "/v1/search", "/v1/items")


class EmbeddingsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    input: Any
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    user: str | None = None
    modality: str | None = None  # infinity's convention: how to read string inputs
    instruction: str | None = None  # a query instruction (OmniRet Eq. 1); candidates have none


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    query: Any  # a string, a content part or a list of them (a composed query)
    instruction: str | None = None  # None: the model's own for the modality filter
    k: int = 10
    modality: list[str] | str | None = None
    where: str | None = None
    group_by: Literal["asset"] | None = None
    calibration: Literal["auto", "on", "off"] = "auto"
    mode: Literal["dense", "keyword", "hybrid"] = "dense"  # keyword/hybrid: BM25 over the rows' words
    rerank: int | None = None  # re-score the first stage's top N by late interaction


class PathsRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    paths: list[str]


def service_of(request: Request) -> Service:
    service: Service = request.app.state.service
    if not service.ready.is_set():
        why = f"the model failed to load: {service.error}" if service.error else "the model is still loading"
        raise RequestError(why, status=503)
    return service


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingsRequest, request: Request) -> dict:
    service = service_of(request)
    s, model = service.settings, service.model
    if body.model not in (None, "", model.model_id):
        raise RequestError(f"model {body.model!r} is not served here; this server serves {model.model_id!r}",
                           param="model", status=404)  # fmt: skip
    if body.dimensions is not None and body.dimensions != model.dim:
        raise RequestError(f"dimensions: {model.model_id} returns {model.dim}-dimensional embeddings and was not "
                           "trained to be shortened; omit dimensions", param="dimensions")  # fmt: skip
    inputs = parse_inputs(body.input, modality=body.modality, instruction=body.instruction,
                          max_items=s.max_items, max_item_bytes=s.max_item_bytes)  # fmt: skip
    vectors = await asyncio.wrap_future(service.encode_async(inputs))
    data = [{"object": "embedding", "index": i, "embedding": _encoded(v, body.encoding_format)}
            for i, v in enumerate(vectors)]  # fmt: skip
    media = sum(getattr(x, m) is not None for x in inputs for m in MEDIA_NAMES)
    tokens = sum(len((x.text or "").split()) for x in inputs) + media  # words, and one per medium
    return {"object": "list", "data": data, "model": model.model_id,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}  # fmt: skip


def _encoded(vector: np.ndarray, fmt: str):
    v = np.ascontiguousarray(vector, dtype="<f4")
    return base64.b64encode(v.tobytes()).decode() if fmt == "base64" else v.tolist()


@router.get("/v1/models")
def models(request: Request) -> dict:
    m = service_of(request).model
    return {"object": "list", "data": [{"id": m.model_id, "object": "model", "created": 0, "owned_by": "omniret",
                                        "dim": m.dim, "weights_hash": m.weights_hash}]}  # fmt: skip


@router.post("/v1/search")
def search(body: SearchRequest, request: Request) -> dict:
    service = service_of(request)
    s = service.settings
    if not 1 <= body.k <= s.max_k:
        raise RequestError(f"k must be between 1 and {s.max_k}, got {body.k}", param="k")
    if body.rerank is not None and not 1 <= body.rerank <= max(s.max_k, 100):
        raise RequestError(
            f"rerank must be between 1 and {max(s.max_k, 100)}, got {body.rerank}", param="rerank"
        )
    query: OmniInput = parse_item(
        body.query, "query", instruction=body.instruction, max_item_bytes=s.max_item_bytes
    )
    modalities = [body.modality] if isinstance(body.modality, str) else body.modality
    result = service.index.search(query, k=body.k, modalities=modalities, where=body.where,
                                  group_by_asset=body.group_by == "asset", calibration=body.calibration,
                                  mode=body.mode, rerank=body.rerank)  # fmt: skip
    return {"hits": [hit_json(h) for h in result.hits], "mode": result.mode, "calibration": result.calibration,
            "ranking": result.ranking, "seconds": result.seconds}  # fmt: skip


def hit_json(hit) -> dict:
    out = {k: v for k, v in vars(hit).items() if k != "keyframe"}
    out["name"] = hit.uri.rsplit("/", 1)[-1]
    out["media_url"] = f"/media/{hit.asset_id}"
    out["keyframe_url"] = f"/media/{hit.asset_id}/keyframe?segment={hit.segment_id}" if hit.keyframe else None
    return out


@router.post("/v1/items", status_code=202)
async def add_items(request: Request) -> dict:
    service = service_of(request)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        paths = await save_uploads(request, service.settings)
    elif kind.startswith("application/json"):
        try:
            body = PathsRequest.model_validate_json(await request.body())
        except ValueError as err:
            raise RequestError(f"body: expected {{\"paths\": [...]}} ({str(err).splitlines()[0]})",
                               param="paths") from None  # fmt: skip
        paths = allowed_paths(body.paths, service.settings)
    else:
        raise RequestError("send files as multipart/form-data (field \"files\") or JSON {\"paths\": [...]}",
                           status=415)  # fmt: skip
    job = service.jobs.submit(paths)
    return {**job.as_dict(), "status_url": f"/v1/jobs/{job.id}"}


@router.get("/v1/jobs/{job_id}")
def job_status(job_id: str, request: Request) -> dict:
    job = request.app.state.service.jobs.get(job_id)
    if job is None:
        raise RequestError(f"no job {job_id!r} (finished jobs are kept for a while, not forever)", status=404)
    return job.as_dict()


@router.delete("/v1/items/{asset_id}")
async def delete_item(asset_id: str, request: Request) -> dict:
    service = service_of(request)
    if not ASSET_ID.match(asset_id):
        raise RequestError(
            f"no indexed item {asset_id!r} (ids are 16 hex digits)", param="asset_id", status=404
        )
    path = stored_path(service, asset_id)
    removed = await run_in_threadpool(service.index.delete, where=f"asset_id = {quote(asset_id)}")
    if not removed:
        raise RequestError(f"no indexed item {asset_id!r}", param="asset_id", status=404)
    forget(path, service.settings)
    return {"deleted": asset_id, "rows": removed}
