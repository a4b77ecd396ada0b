"""Keep third-party loaders from printing progress bars on every model load."""

from __future__ import annotations


def quiet_transformers() -> None:
    from transformers.utils import logging

    logging.disable_progress_bar()
    logging.set_verbosity_error()
