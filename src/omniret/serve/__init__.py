"""``omniret serve``: one long-lived process with an HTTP API and a web UI (needs the ``serve`` extra).

``create_app(ServeSettings(db=...))`` builds the FastAPI app; the CLI runs it with uvicorn.
"""

from omniret.serve.app import create_app
from omniret.serve.settings import ServeSettings, read_api_key

__all__ = ["ServeSettings", "create_app", "read_api_key"]
