"""omniret.inputs.modality: the two vocabularies as enums that still equal the stored strings."""

import pytest

from omniret.inputs.modality import MEDIA, Family, Modality, family_of


def test_media_map_onto_tower_families_and_compare_equal_to_strings():
    assert [family_of(m) for m in MEDIA] == [Family.VISION, Family.AUDIO, Family.VISION]
    assert Modality.IMAGE == "image" and family_of("video") == "vision" and f"{Family.AUDIO}" == "audio"
    with pytest.raises(KeyError):
        family_of("text")  # text is read by the composer, not a tower
    with pytest.raises(ValueError, match="'smell' is not a valid Modality"):
        family_of("smell")
