"""omniret._quiet: loading a Hugging Face model prints no progress bars or info lines."""

from __future__ import annotations

from omniret._quiet import quiet_transformers


def test_transformers_is_left_at_errors_only_without_progress_bars():
    from transformers.utils import logging

    before, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_info()
    logging.enable_progress_bar()
    try:
        quiet_transformers()
        assert logging.get_verbosity() == logging.ERROR and not logging.is_progress_bar_enabled()
        quiet_transformers()  # idempotent: every model load calls it
        assert logging.get_verbosity() == logging.ERROR and not logging.is_progress_bar_enabled()
    finally:  # other tests see transformers as they found it
        logging.set_verbosity(before)
        (logging.enable_progress_bar if bars else logging.disable_progress_bar)()
