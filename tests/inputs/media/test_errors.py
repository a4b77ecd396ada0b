"""omniret.inputs.media.errors: one family of media errors, each naming the file and the reason."""

from __future__ import annotations

import pytest

from omniret.errors import EXIT_USAGE, InputError
from omniret.inputs.media import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
)

KINDS = [
    CorruptMediaError,
    EmptyMediaError,
    MediaTooLargeError,
    UnreadableMediaError,
    UnsupportedMediaError,
    WrongModalityError,
]


@pytest.mark.parametrize("kind", KINDS)
def test_every_media_error_is_one_line_naming_source_and_reason(kind):
    err = kind("clips/a.mp4", "cannot decode video (bad data)")
    assert str(err) == "clips/a.mp4: cannot decode video (bad data)"
    assert (err.source, err.reason) == ("clips/a.mp4", "cannot decode video (bad data)")


@pytest.mark.parametrize("kind", KINDS)
def test_media_errors_are_input_errors_and_value_errors(kind):
    """The CLI prints any InputError as one line with exit code 2; callers may also catch ValueError."""
    err = kind("x.png", "why")
    assert isinstance(err, MediaError) and isinstance(err, InputError) and isinstance(err, ValueError)
    assert err.exit_code == EXIT_USAGE
    with pytest.raises(MediaError, match=r"^x\.png: why$"):
        raise err
