"""The phase plan behind strided transposed convolutions (``_subpixel``), against brute force.

The numbers of every lowering's transposed convolution are checked against the naive scatter
in ``test_conv_transpose.py``; this checks the plan itself: each output phase reads exactly
the (input entry, kernel tap) pairs that the transposed convolution's definition sums.
"""

import itertools

import pytest

from jaxcnn._cpu.subpixel import axis_phases


def _pairs_by_definition(size_in, size_out, k, s, p, d):
    """{o: {(i, t)}} with ``o = i * s + t * d - p`` (PyTorch's transposed convolution)."""
    pairs = {o: set() for o in range(size_out)}
    for i, t in itertools.product(range(size_in), range(k)):
        o = i * s + t * d - p
        if 0 <= o < size_out:
            pairs[o].add((i, t))
    return pairs


def _pairs_by_phases(size_in, size_out, k, s, p, d):
    pairs = {o: set() for o in range(size_out)}
    for r, phase in enumerate(axis_phases(size_in, size_out, k, s, d, d * (k - 1) - p)):
        if phase is None:
            continue
        assert phase.size == len(range(r, size_out, s))
        for m in range(phase.size):
            for j in range(phase.taps):
                i = phase.start + m + j * phase.dilation
                if 0 <= i < size_in:  # outside: the zero padding the phase reads
                    tap = phase.tap + j * phase.tap_step  # of the mirrored kernel
                    pairs[r + s * m].add((i, k - 1 - tap))
    return pairs


@pytest.mark.parametrize(
    "k, s, d", list(itertools.product([1, 2, 3, 4, 5], [1, 2, 3, 4], [1, 2, 3]))
)
def test_each_phase_reads_exactly_the_pairs_of_the_definition(k, s, d):
    for size_in, p in itertools.product([1, 2, 5, 8], range(0, d * (k - 1) + 2)):
        for op in range(max(s, d)):
            size_out = (size_in - 1) * s - 2 * p + d * (k - 1) + op + 1
            if size_out < 1:
                continue
            want = _pairs_by_definition(size_in, size_out, k, s, p, d)
            got = _pairs_by_phases(size_in, size_out, k, s, p, d)
            assert got == want, (size_in, size_out, p, op)


def test_a_kernel_smaller_than_the_stride_leaves_whole_phases_empty():
    # k = 1, s = 3, padding 0: outputs 1 and 2 of every 3 never meet a tap.
    phases = axis_phases(size_in=4, size_out=11, k=1, s=3, d=1, lo=0)
    assert phases[1] is None and phases[2] is None
    assert phases[0] is not None and phases[0].size == 4 and phases[0].taps == 1
