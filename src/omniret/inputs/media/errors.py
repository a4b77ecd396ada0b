"""One error family for bad media: every error names the file and the reason."""

from __future__ import annotations

from omniret.errors import InputError


class MediaError(InputError):
    """A media input cannot be used. ``source`` names it, ``reason`` says why."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source, self.reason = source, reason


class EmptyMediaError(MediaError):
    """Zero bytes, or no frames / samples inside."""


class UnreadableMediaError(MediaError):
    """Missing file or no permission to read it."""


class UnsupportedMediaError(MediaError):
    """A format we do not decode."""


class CorruptMediaError(MediaError):
    """The decoder failed: damaged or truncated data."""


class EncryptedMediaError(MediaError):
    """Locked: a password-protected document whose content cannot be read without the password."""


class WrongModalityError(MediaError):
    """The content is a different kind of media than the input field says (e.g. audio passed as image)."""


class MediaTooLargeError(MediaError):
    """Over a configured size limit (bytes, pixels or duration)."""
