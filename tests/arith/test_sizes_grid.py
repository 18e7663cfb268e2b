"""Output sizes over whole grids of small arguments, against references that share no code
with ``jaxcnn.arith.sizes``: counting the window positions one by one, ``jax.lax``'s own
"SAME" padding rule, and hand-worked numbers. Exhaustive where the hypothesis test in
test_sizes_counts.py samples (its 30 derandomized examples missed asymmetric pads and SAME with
a stride that does not divide the size; mutation testing, docs/mutation.md, found both)."""

from __future__ import annotations

import itertools
import re

import pytest
from jax import lax

from jaxcnn import arith
from jaxcnn.arith.sizes import resolve_padding


def _positions(padded: int, span: int, stride: int) -> int:
    """How many windows of length ``span`` start at 0, stride, 2 stride, ... inside ``padded``."""
    count, start = 0, 0
    while start + span <= padded:
        count, start = count + 1, start + stride
    return count


def test_conv_output_size_counts_window_positions_with_asymmetric_pads():
    for size, k, s, d, lo, hi in itertools.product(
        range(1, 8), range(1, 4), range(1, 4), range(1, 3), range(3), range(3)
    ):
        span = d * (k - 1) + 1
        want = _positions(size + lo + hi, span, s)
        if want == 0:
            with pytest.raises(ValueError, match="kernel must fit"):
                arith.conv_output_size(size, k, s, (lo, hi), d)
        else:
            assert arith.conv_output_size(size, k, s, (lo, hi), d) == want
            assert resolve_padding((lo, hi), size, k, s, d, "f") == (lo, hi)


def test_string_paddings_are_laxs_pads_as_python_ints():
    for size, k, s, d in itertools.product(range(1, 10), range(1, 4), range(1, 4), range(1, 3)):
        span = d * (k - 1) + 1
        ((lo, hi),) = lax.padtype_to_pads((size,), (span,), (s,), "SAME")
        for mode, want in [
            ("SAME", (lo, hi)),
            ("same", (lo, hi)),
            ("VALID", (0, 0)),
            ("FULL", (span - 1, span - 1)),
            ("causal", (span - 1, 0)),
        ]:
            got = resolve_padding(mode, size, k, s, d, "f")
            assert got == want and all(type(p) is int for p in got), (mode, size, k, s, d)
        assert arith.conv_output_size(size, k, s, "SAME", d) == -(-size // s)


def test_pool_output_size_by_hand():
    assert arith.pool_output_size(4, 2) == 2  # no padding by default
    assert arith.pool_output_size(8, 2, padding=1) == 5  # a pad of window // 2 is allowed
    assert arith.pool_output_size(6, 6, padding=3) == 2
    assert arith.pool_output_size(12, 3, stride=1) == 10
    assert arith.pool_output_size(7, 3, padding="VALID") == 2
    assert arith.pool_output_size(7, 3, padding="same") == 3  # pads (1, 1)
    assert arith.pool_output_size(5, 3, stride=1, padding="SAME") == 5
    with pytest.raises(
        ValueError,
        match=re.escape(
            "pool_output_size: padding must be at most half the window (4 // 2 = 2), got (0, 3)"
        ),
    ):
        arith.pool_output_size(8, 4, padding=(0, 3))


def test_conv_transpose_output_size_by_hand():
    # (size - 1) * stride - 2 padding + dilation (kernel - 1) + output_padding + 1
    assert arith.conv_transpose_output_size(3, 3) == 5
    assert arith.conv_transpose_output_size(1, 1) == 1
    # output_padding may reach max(stride, dilation) - 1 (PyTorch's rule), here via dilation
    assert arith.conv_transpose_output_size(3, 2, stride=1, output_padding=1, dilation=2) == 6


def test_conv_output_shape_per_axis():
    assert arith.conv_output_shape((9, 9), 3, dilation=(1, 2)) == (7, 5)
    assert arith.conv_output_shape((4, 4), 3, padding=[1, (0, 3)]) == (4, 5)


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: arith.conv_output_size(2, 5, padding=(1, 1)),
            ValueError,
            "conv_output_size: kernel must fit in the padded input, got window 5 (kernel 5, "
            "dilation 1) > padded size 4 (size 2, padding (1, 1))",
        ),
        (
            lambda: arith.conv_output_size(0, 3),
            ValueError,
            "conv_output_size: size must be positive, got 0",
        ),
        (
            lambda: arith.conv_output_size(4, 3, padding="HALF"),
            ValueError,
            "conv_output_size: padding must be one of ['VALID', 'SAME', 'FULL', 'CAUSAL'], an "
            "int or (low, high), got 'HALF'",
        ),
        (
            lambda: arith.conv_output_size(4, 3, padding=(0, -1)),
            ValueError,
            "conv_output_size: padding must be non-negative, got (0, -1)",
        ),
        (
            lambda: arith.conv_output_size(4, 3, padding=1.5),
            TypeError,
            "conv_output_size: padding must be a string, an int or (low, high) ints, got float 1.5",
        ),
        (
            lambda: arith.pool_output_size(4, 0),
            ValueError,
            "pool_output_size: window must be positive, got 0",
        ),
        (
            lambda: arith.pool_output_size(0, 2),
            ValueError,
            "pool_output_size: size must be positive, got 0",
        ),
        (
            lambda: arith.pool_output_size(4, 2, padding=-1),
            ValueError,
            "pool_output_size: padding must be non-negative, got -1",
        ),
        (
            lambda: arith.conv_transpose_output_size(0, 3),
            ValueError,
            "conv_transpose_output_size: size must be positive, got 0",
        ),
        (
            lambda: arith.conv_transpose_output_size(3, 3, padding=1.0),
            TypeError,
            "conv_transpose_output_size: padding must be an int, got float 1.0",
        ),
        (
            lambda: arith.conv_transpose_output_size(3, 3, output_padding="1"),
            TypeError,
            "conv_transpose_output_size: output_padding must be an int, got str '1'",
        ),
        (
            lambda: arith.conv_transpose_output_size(3, 3, padding=-1),
            ValueError,
            "conv_transpose_output_size: padding must be non-negative, got -1",
        ),
        (
            lambda: arith.conv_transpose_output_size(3, 3, output_padding=-1),
            ValueError,
            "conv_transpose_output_size: output_padding must be non-negative, got -1",
        ),
        (
            lambda: arith.conv_output_shape((4, 4), 3, padding=(1, 1, 1)),
            ValueError,
            "conv_output_shape: padding must be an int or 2 values, got (1, 1, 1)",
        ),
    ],
)
def test_error_messages_in_full(call, exc, message):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        call()
