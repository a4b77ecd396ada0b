"""``create_app(settings)``: the FastAPI application behind ``omniret serve`` (tests build it too).

Errors use OpenAI's envelope, ``{"error": {"message", "type", "param", "code"}}``, so the stock
``openai`` client raises them with the message; every 4xx names the field that was wrong.
"""

from __future__ import annotations

import hmac
import time
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from omniret.errors import InputError
from omniret.inputs.media.errors import MediaError
from omniret.models import RetrievalModel
from omniret.serve.inputs import RequestError
from omniret.serve.media import router as media_router
from omniret.serve.routes import KNOWN
from omniret.serve.routes import router as api_router
from omniret.serve.service import Service
from omniret.serve.settings import ServeSettings
from omniret.version import __version__

PUBLIC = ("/healthz", "/readyz", "/")  # no key needed: no data behind them
STATIC = "/static/"
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 409: "conflict_error", 413: "request_too_large",
               503: "service_unavailable"}  # fmt: skip


def error(status: int, message: str, param: str | None = None) -> JSONResponse:
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


def create_app(settings: ServeSettings, *, model: RetrievalModel | None = None) -> FastAPI:
    """``model``: an already loaded model (tests share one); None loads the index's model at start."""
    service = Service(settings, model=model)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.start()
        yield
        service.close()

    app = FastAPI(title="omniret", version=__version__, lifespan=lifespan, docs_url="/docs", redoc_url=None)
    app.state.service = service
    _middleware(app, service)
    _errors(app)
    app.include_router(api_router)
    app.include_router(media_router)
    _pages(app, service)
    return app


def _middleware(app: FastAPI, service: Service) -> None:
    s = service.settings
    expected = f"Bearer {s.api_key}".encode() if s.api_key else None
    app.add_middleware(BodyLimit, limit=s.max_body_bytes)

    @app.middleware("http")
    async def guard(request: Request, call_next):
        start, path = time.perf_counter(), request.url.path
        response = _refusal(request, expected, s.max_body_bytes)
        if response is None:
            response = await call_next(request)
        service.metrics.observe(_route_label(path), response.status_code, time.perf_counter() - start)
        return response


def _refusal(request: Request, expected: bytes | None, max_body: int) -> JSONResponse | None:
    """A 401 for a missing or wrong key (constant-time compare; says nothing of why), a 413 for a
    declared body over the limit; None when the request may go on."""
    path = request.url.path
    if expected is not None and not path.startswith(STATIC) and path not in PUBLIC:
        if not hmac.compare_digest(request.headers.get("authorization", "").encode(), expected):
            return error(401, "missing or wrong API key (send Authorization: Bearer <key>)")
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > max_body):
        return error(413, f"the request body is {length} bytes; the limit is {max_body:,} bytes")
    return None


class BodyLimit:
    """A body without Content-Length (chunked) is read here first, up to the limit, and answered with
    a 413 past it; bodies that declare their length are checked by ``guard`` before any is read
    (the HTTP parser never reads past a declared length)."""

    def __init__(self, app, *, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or any(k == b"content-length" for k, _ in scope["headers"]):
            return await self.app(scope, receive, send)
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = message.get("more_body", False)
            if size > self.limit:
                response = error(413, f"the request body is over the limit of {self.limit:,} bytes")
                return await response(scope, receive, send)
        body = b"".join(chunks)
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _route_label(path: str) -> str:
    """A bounded label set: ids in paths are not labels (metrics must not grow with traffic)."""
    for prefix in ("/v1/jobs/", "/v1/items/", "/media/", STATIC):
        if path.startswith(prefix):
            return prefix + "*"
    return path if path in KNOWN or path in PUBLIC or path == "/metrics" else "other"


def _errors(app: FastAPI) -> None:
    @app.exception_handler(RequestError)
    async def request_error(request: Request, err: RequestError):
        return error(err.status, str(err), err.param)

    @app.exception_handler(MediaError)
    async def media_error(request: Request, err: MediaError):
        return error(400, str(err))

    @app.exception_handler(InputError)
    async def input_error(request: Request, err: InputError):
        return error(400, str(err))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError):
        first = err.errors()[0] if err.errors() else {"loc": (), "msg": "invalid request"}
        loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body")
        return error(400, f"{loc or 'body'}: {first.get('msg')}", loc or None)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException):
        return error(err.status_code, str(err.detail))


def _pages(app: FastAPI, service: Service) -> None:
    static = resources.files("omniret.serve") / "static"

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        if service.ready.is_set():
            return JSONResponse({"status": "ready", "model": service.model.model_id})
        if service.error:
            return error(503, f"the model failed to load: {service.error}")
        return error(503, "loading the model")

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return PlainTextResponse(service.metrics.text(), media_type="text/plain; version=0.0.4")

    @app.get("/", include_in_schema=False)
    def index_page() -> FileResponse:
        return FileResponse(str(static / "index.html"), media_type="text/html")

    @app.get("/static/{name}", include_in_schema=False)
    def static_file(name: str) -> Response:
        files = {p.name: p for p in static.iterdir()}  # a fixed set: no path reaches the file system
        if name not in files or name == "index.html":
            return error(404, f"no static file {name!r}")
        kind = {"js": "text/javascript", "css": "text/css"}.get(name.rsplit(".", 1)[-1], "text/plain")
        return FileResponse(str(files[name]), media_type=kind)
