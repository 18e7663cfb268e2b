import numpy as np
import pytest
from jaxcnn.audio import phones


def test_sizes_and_state_layout():
    assert phones.NUM_PHONES == 46 and len(set(phones.PHONES)) == 46
    assert phones.NUM_STATES == 138
    states = np.arange(138)
    np.testing.assert_array_equal(phones.state_to_phone(states), np.repeat(np.arange(46), 3))


def test_timit_61_symbols_all_map():
    timit61 = (
        "aa ae ah ao aw ax ax-h axr ay b bcl ch d dcl dh dx eh el em en eng epi er ey f g gcl "
        "h# hh hv ih ix iy jh k kcl l m n ng nx ow oy p pau pcl q r s sh t tcl th uh uw ux v w "
        "y z zh"
    ).split()
    assert len(timit61) == 61
    mapped = {phones.to_phone(s, "timit") for s in timit61}
    assert mapped == set(phones.PHONES)  # every one of the 46 is reachable from TIMIT
    # Lee & Hon foldings we keep, and the ones we undo.
    assert phones.to_phone("ux", "timit") == "uw"
    assert phones.to_phone("pcl", "timit") == "sil"
    assert phones.to_phone("ix", "timit") == "ix"


def test_espeak_stress_marks_are_stripped():
    assert phones.to_phone("'i:", "espeak") == "iy"
    assert phones.to_phone(",O:", "espeak") == "ao"
    assert phones.to_phone("'O", "espeak") == "ao"  # en-us's short THOUGHT vowel
    assert phones.phone_index("_:", "espeak") == phones.PHONE_INDEX["sil"]


def test_unknown_symbols_name_the_symbol():
    with pytest.raises(ValueError, match="TIMIT's 61 phones, got 'xx'"):
        phones.to_phone("xx", "timit")
    with pytest.raises(ValueError, match="espeak-ng English phoneme, got '@@@'"):
        phones.to_phone("@@@", "espeak")
    with pytest.raises(ValueError, match="one of the 46 phones, got 'h#'"):
        phones.to_phone("h#")
    with pytest.raises(ValueError, match="source must be one of"):
        phones.to_phone("aa", "arpabet")
    with pytest.raises(TypeError, match="symbol must be a str"):
        phones.to_phone(3)


def test_state_labels_out_of_range():
    with pytest.raises(ValueError, match=r"states must be in \[0, 138\), got values in \[0, 138\]"):
        phones.state_to_phone(np.array([0, 138]))
    with pytest.raises(ValueError, match="must be in"):
        phones.state_to_phone(np.array([-1]))
    with pytest.raises(TypeError, match="integer dtype"):
        phones.state_to_phone(np.array([1.5]))
