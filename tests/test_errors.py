"""omniret.errors: one exception family whose class decides the documented exit code (1: runtime,
2: usage or bad input), while each error stays catchable as the builtin it resembles."""

from __future__ import annotations

import pytest

from omniret.assets import AssetMissingError
from omniret.checkpoint import NotACheckpointError
from omniret.config_io import ConfigError, FieldError
from omniret.datasets.qrc import QrcError
from omniret.datasets.sources import SourceMissingError
from omniret.errors import EXIT_RUNTIME, EXIT_USAGE, BusyError, InputError, IntegrityError, OmniretError
from omniret.eval.mbeir import BenchmarkFormatError, BenchmarkNotFoundError
from omniret.extras import MissingExtraError
from omniret.inputs import InputTypeError
from omniret.inputs.media import MediaError, WrongModalityError
from omniret.models import ModelNotFoundError

USAGE = [InputError, ConfigError, FieldError, BenchmarkFormatError, BenchmarkNotFoundError, NotACheckpointError,
         QrcError, MediaError, WrongModalityError, InputTypeError, ModelNotFoundError]  # fmt: skip
RUNTIME = [IntegrityError, BusyError, AssetMissingError, SourceMissingError, MissingExtraError]


def test_the_exit_codes_are_the_documented_ones():
    assert (EXIT_RUNTIME, EXIT_USAGE) == (1, 2)
    assert OmniretError.exit_code == EXIT_RUNTIME  # an unclassified problem is a runtime failure


@pytest.mark.parametrize("cls", USAGE, ids=lambda c: c.__name__)
def test_bad_input_of_every_area_exits_2_and_is_a_value_error(cls):
    assert issubclass(cls, OmniretError) and cls.exit_code == EXIT_USAGE
    assert issubclass(cls, ValueError)  # code written before the family existed still catches it


@pytest.mark.parametrize("cls", RUNTIME, ids=lambda c: c.__name__)
def test_runtime_failures_exit_1(cls):
    """A corrupted checkpoint, a held lock, a missing local asset, data package or extra: exit 1."""
    assert issubclass(cls, OmniretError) and cls.exit_code == EXIT_RUNTIME
    assert not issubclass(cls, InputError)


def test_errors_stay_the_builtins_they_resemble():
    for cls in (BenchmarkNotFoundError, NotACheckpointError, ModelNotFoundError, AssetMissingError,
                SourceMissingError):  # fmt: skip
        assert issubclass(cls, FileNotFoundError), cls
    assert issubclass(InputTypeError, TypeError) and issubclass(MissingExtraError, ImportError)
    with pytest.raises(FileNotFoundError, match="nowhere"):
        raise AssetMissingError("nowhere")
