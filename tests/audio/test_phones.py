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
        phones.to_phone("aa", "klingon")
    with pytest.raises(TypeError, match="symbol must be a str"):
        phones.to_phone(3)


def test_state_labels_out_of_range():
    with pytest.raises(ValueError, match=r"states must be in \[0, 138\), got values in \[0, 138\]"):
        phones.state_to_phone(np.array([0, 138]))
    with pytest.raises(ValueError, match="must be in"):
        phones.state_to_phone(np.array([-1]))
    with pytest.raises(TypeError, match="integer dtype"):
        phones.state_to_phone(np.array([1.5]))


def test_arpabet_with_stress_digits_and_any_case():
    assert phones.to_phone("IY1", "arpabet") == "iy"
    assert phones.to_phone("ah1", "arpabet") == "ah"
    assert phones.to_phone("AH0", "arpabet") == "ax"  # unstressed AH is TIMIT's schwa
    assert phones.to_phone("ER0", "arpabet") == "axr"
    assert phones.to_phone("sp", "arpabet") == "sil"
    assert phones.to_phone("H#", "timit") == "sil"  # TIMIT symbols in any case
    for bad in ("IY12", "IY3", "ix"):  # two digits, no such stress, not an ARPAbet phone
        with pytest.raises(ValueError, match="ARPAbet phone"):
            phones.to_phone(bad, "arpabet")


def test_user_phone_map(tmp_path):
    path = tmp_path / "map.txt"
    path.write_text("# mine\nAA aa\nSIL h#\n\nkw k\n")
    table = phones.read_phone_map(path)
    assert table == {"AA": "aa", "SIL": "sil", "kw": "k"}  # TIMIT values are folded
    assert phones.to_phone("SIL", table) == "sil"
    assert phones.phone_index("kw", table) == phones.PHONE_INDEX["k"]
    with pytest.raises(ValueError, match="key of the phone map, got 'zz'"):
        phones.to_phone("zz", table)
    for text, message in (
        ("AA aa extra\n", "line 1 of .* must be 'symbol phone'"),
        ("AA aa\nAA ae\n", "line 2 .* must not repeat a symbol"),
        ("AA klingon\n", "line 1 .* must be one of the 46 phones or a TIMIT symbol"),
        ("# nothing\n", "at least one"),
    ):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            phones.read_phone_map(path)


def test_detect_source_and_one_error_for_every_unknown_symbol():
    assert phones.detect_source(["h#", "sh", "iy", "pcl"]) == "timit"
    assert phones.detect_source(["sil", "sh", "iy"]) == "phone"
    assert phones.detect_source(["SIL", "SH", "IY1"]) == "arpabet"
    assert phones.detect_source(["_:", "'i:", "S"]) == "espeak"
    where = {"h#": ["a.phn"], "iy": ["a.phn"], "xx": ["b.phn", "a.phn"], "yy": ["c.phn"]}
    with pytest.raises(ValueError) as info:
        phones.check_symbols(where, "timit")
    message = str(info.value)
    assert "2 unknown symbol(s)" in message
    assert "'xx' in 2 file(s): a.phn, b.phn" in message and "'yy' in 1 file(s): c.phn" in message
    assert "phone map" in message
    phones.check_symbols({"h#": ["a"], "iy": ["a"]}, "timit")  # all known: no error
