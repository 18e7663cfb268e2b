"""Parameter and MAC counts against literal counting loops, array sizes and hand-worked numbers,
with groups, biases, batches and kernels that differ per axis (the cases mutation testing,
docs/mutation.md, showed test_sizes_counts.py left open)."""

from __future__ import annotations

import itertools
import re

import jax
import numpy as np
import pytest

from jaxcnn import arith


def _conv_macs_by_loop(batch, out, window, c_in, c_out, groups):
    """Count the multiplies of a grouped conv, one output element and one weight at a time."""
    count = 0
    for _ in itertools.product(range(batch), *(range(o) for o in out), range(c_out)):
        for _ in itertools.product(*(range(k) for k in window), range(c_in // groups)):
            count += 1
    return count


def _conv_transpose_macs_by_loop(batch, in_sizes, window, c_in, c_out, groups):
    """Count the multiplies of a transposed conv's scatter: input element x weight tap."""
    count = 0
    for _ in itertools.product(range(batch), *(range(n) for n in in_sizes), range(c_in)):
        for _ in itertools.product(*(range(k) for k in window), range(c_out // groups)):
            count += 1
    return count


@pytest.mark.parametrize(
    ("batch", "sizes", "window", "c_in", "c_out", "groups"),
    [(1, (5,), (3,), 2, 3, 1), (2, (4, 3), (2, 3), 4, 6, 2), (3, (2, 5), (3, 1), 6, 3, 3)],
)
def test_macs_match_counting_loops(batch, sizes, window, c_in, c_out, groups):
    assert arith.conv_macs(sizes, window, c_in, c_out, groups, batch) == _conv_macs_by_loop(
        batch, sizes, window, c_in, c_out, groups
    )
    assert arith.conv_transpose_macs(
        sizes, window, c_in, c_out, groups, batch
    ) == _conv_transpose_macs_by_loop(batch, sizes, window, c_in, c_out, groups)


def test_defaults_are_one_group_one_example_with_bias():
    assert arith.conv_macs((4, 3), (2, 3), 4, 6) == _conv_macs_by_loop(1, (4, 3), (2, 3), 4, 6, 1)
    assert arith.conv_transpose_macs((4,), 3, 2, 6) == _conv_transpose_macs_by_loop(
        1, (4,), (3,), 2, 6, 1
    )
    assert arith.dense_macs(7, 5) == 35
    assert arith.dense_macs(7, 5, positions=3) == 105
    assert arith.dense_params(7, 5) == 40
    assert arith.dense_params(7, 5, bias=False) == 35


@pytest.mark.parametrize(
    ("window", "c_in", "c_out", "groups"), [((3,), 4, 6, 1), ((2, 3), 4, 6, 2), ((1, 2), 6, 3, 3)]
)
def test_params_are_the_sizes_of_the_kernel_and_bias_arrays(window, c_in, c_out, groups):
    conv_kernel = np.zeros((*window, c_in // groups, c_out))  # HWIO
    transpose_kernel = np.zeros((*window, c_out // groups, c_in))  # as conv_transpose2d
    bias = np.zeros((c_out,))
    assert arith.conv_params(window, c_in, c_out, groups) == conv_kernel.size + bias.size
    assert arith.conv_params(window, c_in, c_out, groups, bias=False) == conv_kernel.size
    assert arith.conv_transpose_params(window, c_in, c_out, groups) == (
        transpose_kernel.size + bias.size
    )
    assert arith.conv_transpose_params(window, c_in, c_out, groups, bias=False) == (
        transpose_kernel.size
    )
    assert arith.conv_params(window[0], c_in, c_out, groups) == (
        np.zeros((window[0], c_in // groups, c_out)).size + c_out
    )
    assert arith.conv_transpose_params(window, c_in, c_out) == (  # one group by default
        np.zeros((*window, c_out, c_in)).size + c_out
    )


def test_counts_are_exact_python_ints_past_float_precision():
    # 2**53 + 1 is not a float: a count through true division (c_in / groups) would round it
    big = 2**53 + 1
    counts = [
        arith.conv_params((1,), 2 * big, 2, groups=2, bias=False),
        arith.conv_transpose_params((1,), 2, 2 * big, groups=2, bias=False),
        arith.conv_macs((1,), 1, 2 * big, 2, groups=2),
        arith.conv_transpose_macs((1,), 1, 2, 2 * big, groups=2),
    ]
    for got in counts:
        assert type(got) is int and got == 2 * big


def test_count_params_sums_every_leaf_size():
    tree = {
        "a": np.zeros((2, 3)),
        "b": [np.zeros(()), jax.ShapeDtypeStruct((4, 5, 6), np.float32)],
        "c": np.zeros((0, 7)),
    }
    assert arith.count_params(tree) == 6 + 1 + 120 + 0
    assert arith.count_params({}) == 0
    assert arith.flops(arith.dense_macs(3, 4)) == 24


@pytest.mark.parametrize(
    ("call", "exc", "message"),
    [
        (
            lambda: arith.conv_params((3, 3), 4, 6, groups=4),
            ValueError,
            "conv_params: groups must divide c_in 4 and c_out 6, got 4",
        ),
        (
            lambda: arith.conv_params((3, 3), 6, 4, groups=3),
            ValueError,
            "conv_params: groups must divide c_in 6 and c_out 4, got 3",
        ),
        (
            lambda: arith.conv_transpose_params((3,), 2, 3, groups=2),
            ValueError,
            "conv_transpose_params: groups must divide c_in 2 and c_out 3, got 2",
        ),
        (
            lambda: arith.conv_transpose_params((3,), 0, 3),
            ValueError,
            "conv_transpose_params: c_in must be positive, got 0",
        ),
        (
            lambda: arith.conv_params((), 2, 3),
            ValueError,
            "conv_params: kernel_size must be an int or a non-empty sequence of ints, got ()",
        ),
        (
            lambda: arith.conv_macs((4,), 3, 2, 3, groups=0),
            ValueError,
            "conv_macs: groups must be positive, got 0",
        ),
        (
            lambda: arith.conv_macs((4,), (0,), 2, 3),
            ValueError,
            "conv_macs: kernel_size must be positive, got (0,)",
        ),
        (
            lambda: arith.conv_transpose_macs((4,), 3, 2, 3, batch=1.5),
            TypeError,
            "conv_transpose_macs: batch must be an int, got float 1.5",
        ),
        (
            lambda: arith.conv_transpose_macs((4,), 3, 2, 3, groups=2),
            ValueError,
            "conv_transpose_macs: groups must divide c_in 2 and c_out 3, got 2",
        ),
        (
            lambda: arith.dense_params(0, 3),
            ValueError,
            "dense_params: d_in must be positive, got 0",
        ),
        (
            lambda: arith.dense_macs(3, 0),
            ValueError,
            "dense_macs: d_out must be positive, got 0",
        ),
        (
            lambda: arith.dense_macs(3, 4, positions=-1),
            ValueError,
            "dense_macs: positions must be non-negative, got -1",
        ),
        (
            lambda: arith.count_params([np.zeros(2), 3]),
            TypeError,
            "count_params: tree leaves must be arrays, got int",
        ),
    ],
)
def test_error_messages_in_full(call, exc, message):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        call()
