import pytest

from omniret.registry import Registry


def test_registry_rejects_duplicates_bad_names_and_lists_known_names():
    reg = Registry("widget")
    reg.register("a")(1)
    with pytest.raises(KeyError, match="already registered"):
        reg.register("a")(2)
    with pytest.raises(ValueError, match="lower-case"):
        reg.register("Bad Name")
    with pytest.raises(ValueError, match="unknown widget 'b'; expected one of: a"):
        reg.get("b")
