import numpy as np
import pytest
from jaxcnn.audio import alignments, phones

SEGS = [(0, 800, "h#"), (800, 2400, "sh"), (2400, 4000, "iy"), (4000, 4500, "pau")]


def naive_labels(segments, num_frames, hop, source):
    """A per-frame loop: the segment whose [start, end) holds the centre, then its third."""
    out = []
    for t in range(num_frames):
        c = t * hop
        label = -1
        for s, e, p in segments:
            if s <= c < e:
                third = min(2, int(3 * (c - s) / (e - s)))
                label = 3 * phones.phone_index(p, source) + third
        out.append(label)
    return np.array(out)


def test_frame_labels_match_naive_loop():
    labels = alignments.frame_labels(SEGS, 30, hop=160, source="timit")
    np.testing.assert_array_equal(labels, naive_labels(SEGS, 30, 160, "timit"))
    # Frame 10 is centred on sample 1600, the middle of "sh" (800..2400): middle state.
    assert labels[10] == 3 * phones.PHONE_INDEX["sh"] + 1
    assert labels[29] == -1  # centre 4640 is past the last segment


def test_phn_round_trip(tmp_path, utterance):
    y, segments = utterance
    path = tmp_path / "u.phn"
    alignments.write_phn(path, segments)
    back = alignments.read_phn(path)
    assert back == segments
    n = 1 + len(y) // 160
    a = alignments.frame_labels(segments, n, num_samples=len(y), source="espeak")
    b = alignments.frame_labels(back, n, num_samples=len(y), source="espeak")
    np.testing.assert_array_equal(a, b)
    assert (a >= 0).mean() > 0.99


def test_rescale_keeps_contiguity():
    out = alignments.rescale(SEGS, 16000, 22050)
    alignments.check_segments(out, None, "t")
    assert out[-1][1] == round(4500 * 22050 / 16000)
    with pytest.raises(ValueError, match="rescale: rate_from must be a positive int .*got 0"):
        alignments.rescale(SEGS, 0, 16000)  # was a ZeroDivisionError
    with pytest.raises(ValueError, match="rescale: rate_to must be a positive int .*got -16000"):
        alignments.rescale(SEGS, 16000, -16000)  # was negative positions, all segments dropped


def test_frame_labels_take_numpy_ints():
    # e.g. a frame count read from an .npz: was "num_frames must be a non-negative int, got 30"
    labels = alignments.frame_labels(SEGS, np.int64(30), hop=np.int32(160), source="timit")
    np.testing.assert_array_equal(labels, naive_labels(SEGS, 30, 160, "timit"))
    with pytest.raises(ValueError, match="num_frames must be a non-negative int, got 30.0"):
        alignments.frame_labels(SEGS, 30.0, source="timit")


@pytest.mark.parametrize(
    "segments, match",
    [
        ([(0, 100, "iy"), (150, 200, "s")], "contiguous, got a gap 100..150"),
        ([(0, 100, "iy"), (90, 200, "s")], "must not overlap"),
        ([(0, 100, "iy"), (100, 100, "s")], "must have end > start"),
        ([(0, 100, "iy"), (100, 5000, "s")], r"end within the audio \(4000 samples\)"),
        ([], "must be non-empty"),
    ],
)
def test_bad_alignments(segments, match):
    with pytest.raises(ValueError, match=match):
        alignments.frame_labels(segments, 10, num_samples=4000)


def test_unknown_phone_in_alignment():
    with pytest.raises(ValueError, match="got 'zz'"):
        alignments.frame_labels([(0, 100, "zz")], 1, source="timit")


def test_bad_phn_file(tmp_path):
    bad = tmp_path / "bad.phn"
    bad.write_text("0 100 h#\n100 x s\n")
    with pytest.raises(ValueError, match="line 2 .* must be 'start end symbol'"):
        alignments.read_phn(bad)
    empty = tmp_path / "empty.phn"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="at least one segment"):
        alignments.read_phn(empty)


@pytest.mark.parametrize(
    "segments, error, match",
    [
        ([(0.0, 100.0, "iy")], TypeError, r"must have int start and end samples, got 0.0..100.0"),
        ([(-10, 100, "iy")], ValueError, "must start at sample >= 0, got -10"),
        ([(0, 100, "i y")], ValueError, "symbol must be non-empty without whitespace, got 'i y'"),
        ([(0, 100, "")], ValueError, "symbol must be non-empty without whitespace, got ''"),
        ([(0, 100, None)], TypeError, "symbol must be a str, got NoneType"),
    ],
)
def test_write_phn_refuses_what_read_phn_cannot_read(tmp_path, segments, error, match):
    # each of these used to be written as a .phn file that read_phn then rejects
    with pytest.raises(error, match=match):
        alignments.write_phn(tmp_path / "u.phn", segments)
    assert not (tmp_path / "u.phn").exists()
    ok = [(np.int64(0), np.int32(100), "iy")]  # NumPy ints are fine
    alignments.write_phn(tmp_path / "u.phn", ok)
    assert alignments.read_phn(tmp_path / "u.phn") == [(0, 100, "iy")]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"0 10 a\n10 20 \xff\n", r"must be UTF-8 text, got byte 0xff on line 2"),
        ("0 10 a\n1\u00b2 20 b\n".encode(), r"line 2 of .* must be 'start end symbol'"),
        ("0 \u0661\u0662 a\n".encode(), r"line 1 of .* must be 'start end symbol'"),
        (b"0 10 a\n20 10 b\n", r"line 2 of .* must have start <= end, got '20 10 b'"),
    ],
)
def test_read_phn_names_file_and_line(tmp_path, content, match):
    path = tmp_path / "bad.phn"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match) as info:
        alignments.read_phn(path)
    assert "bad.phn" in str(info.value)
