"""``omniret serve``: the HTTP API and web UI over one index (``omniret.serve``)."""

from __future__ import annotations

from pathlib import Path

import typer

from omniret.cli.options import pairs, storage_option
from omniret.errors import InputError
from omniret.extras import require

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def serve(
    db: str = typer.Option(
        "omniret-db",
        "--db",
        help="Index directory (made by the first upload if absent), or an object-store URI (s3://bucket/idx).",
    ),
    storage_option: list[str] = storage_option(),
    model: str = typer.Option(None, "--model", help="Model (default: the index's own, else omniret-small)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (loopback by default)."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    api_key_file: Path = typer.Option(
        None,
        "--api-key-file",
        help="File whose first line is the Bearer key every /v1 and /media request must send.",
    ),
    allow_root: list[Path] = typer.Option(
        None,
        "--allow-root",
        help="A directory whose files clients may ingest by server-side path (repeatable; default: none).",
    ),
    batch_window_ms: float = typer.Option(
        5.0,
        "--batch-window-ms",
        help="Dynamic batching: how long a request waits for others to share its forward (0: no batching).",
    ),
    max_batch: int = typer.Option(64, "--max-batch", help="Inputs per model forward."),
    max_body_mb: int = typer.Option(64, "--max-body-mb", help="Largest request body, MiB."),
    max_item_mb: int = typer.Option(32, "--max-item-mb", help="Largest medium or uploaded file, MiB."),
) -> None:
    """Serve search, OpenAI-compatible embeddings, ingest and a web UI at http://HOST:PORT/."""
    srv = require("serve", "omniret.serve")
    key = srv.read_api_key(api_key_file) if api_key_file else None
    if host not in LOOPBACK and key is None:
        typer.echo(f"omniret: warning: listening on {host} without --api-key-file: anyone who reaches this "
                   "port can search, upload and delete", err=True)  # fmt: skip
    if not 0 < port < 65536:
        raise InputError(f"--port must be 1..65535, got {port}")
    settings = srv.ServeSettings(db=db, storage_options=pairs(storage_option, "--storage-option"),
                                 model=model, api_key=key, allowed_roots=tuple(allow_root or ()),
                                 batch_window_ms=batch_window_ms, max_batch=max_batch,
                                 max_body_bytes=max_body_mb << 20, max_item_bytes=max_item_mb << 20)  # fmt: skip
    import uvicorn  # the serve extra, checked by require above

    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"omniret serve: {db} on http://{shown}:{port}/ (API docs at /docs; ready when /readyz says so)"
    )
    uvicorn.run(srv.create_app(settings), host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
