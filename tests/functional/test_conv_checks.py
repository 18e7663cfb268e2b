"""conv1d / conv2d at their defaults against the naive loop, and every argument check with its
message in full (test_conv.py matches most messages by a prefix; mutation testing,
docs/mutation.md, showed which words of them no test read)."""

from __future__ import annotations

import re

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn import config
from jaxcnn import functional as F
from tests import reference

TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("n", [1, 2])
def test_defaults_are_a_valid_unit_stride_cross_correlation_with_one_group(n):
    # 2 -> 2 channels so that groups=2 would also take the kernel; no symmetry for flip to hide
    x, k, b = _rand(0, 2, *([6] * n), 2), _rand(1, *([3] * n), 2, 2), _rand(2, 2)
    conv = {1: F.conv1d, 2: F.conv2d}[n]
    want = reference.conv(x, k, (1,) * n, [(0, 0)] * n, (1,) * n, bias=b)
    np.testing.assert_allclose(conv(x, k, b), want, **TOL)
    np.testing.assert_allclose(conv(x, k), want - b, **TOL)


@pytest.mark.parametrize("n", [1, 2])
def test_flip_reverses_every_spatial_axis_and_bias_adds_per_channel(n):
    x, k, b = _rand(3, 1, *([5] * n), 3), _rand(4, *([2] * n), 3, 4), _rand(5, 4)
    conv = {1: F.conv1d, 2: F.conv2d}[n]
    want = reference.conv(x, k, (1,) * n, [(1, 0)] * n, (1,) * n, flip=True, bias=b)
    got = conv(x, k, b, padding=[(1, 0)] * n, flip=True)
    np.testing.assert_allclose(got, want, **TOL)


X1, K1 = np.zeros((2, 6, 4), np.float32), np.zeros((3, 2, 6), np.float32)
X2, K2 = np.zeros((1, 5, 5, 4), np.float32), np.zeros((3, 3, 4, 6), np.float32)


@pytest.mark.parametrize(
    ("conv", "args", "kwargs", "exc", "message"),
    [
        (F.conv1d, (X1[0], K1), {}, ValueError,
         "conv1d: x must have rank 3 (N, W, C), got shape (6, 4)"),
        (F.conv1d, (X1, K1[0]), {}, ValueError,
         "conv1d: kernel must have rank 3 (K, C_in // groups, C_out), got shape (2, 6)"),
        (F.conv2d, (X2, K2[0]), {}, ValueError,
         "conv2d: kernel must have rank 4 (KH, KW, C_in // groups, C_out), got shape (3, 4, 6)"),
        (F.conv1d, (X1.astype(np.int32), K1), {"groups": 2}, TypeError,
         "conv1d: x must have a floating dtype, got int32"),
        (F.conv1d, (X1, K1.astype(np.int32)), {"groups": 2}, TypeError,
         "conv1d: kernel must have a floating dtype, got int32"),
        (F.conv1d, (X1, K1), {"groups": 2, "stride": 0}, ValueError,
         "conv1d: stride must be positive, got (0,)"),
        (F.conv1d, (X1, K1), {"groups": 2, "dilation": (0,)}, ValueError,
         "conv1d: dilation must be positive, got (0,)"),
        (F.conv1d, (X1, K1), {"groups": 2, "dilation": (1, 1)}, ValueError,
         "conv1d: dilation must be an int or 1 int, got (1, 1)"),
        (F.conv1d, (X1, K1), {"groups": (2, 2)}, ValueError,
         "conv1d: groups must be an int or 1 int, got (2, 2)"),
        (F.conv1d, (X1, K1), {"groups": 0}, ValueError,
         "conv1d: groups must be positive, got (0,)"),
        (F.conv1d, (X1[..., :0], np.zeros((3, 0, 6), np.float32)), {}, ValueError,
         "conv1d: x must have at least one input channel, got shape (2, 6, 0)"),
        (F.conv2d, (X2, np.zeros((3, 0, 4, 6), np.float32)), {}, ValueError,
         "conv2d: kernel must have a window of size >= 1 on every spatial axis, got kernel "
         "shape (3, 0, 4, 6)"),
        (F.conv1d, (X1, np.zeros((3, 1, 6), np.float32)), {"groups": 3}, ValueError,
         "conv1d: groups must divide the input channels 4, got 3"),
        (F.conv1d, (X1, np.zeros((3, 2, 5), np.float32)), {"groups": 2}, ValueError,
         "conv1d: groups must divide the output channels (kernel.shape[-1] = 5), got 2"),
        (F.conv1d, (X1, K1), {}, ValueError,
         "conv1d: kernel must have C_in // groups = 4 input channels (x has 4 channels, "
         "groups=1), got kernel shape (3, 2, 6)"),
        # a kernel with zero input channels but a real window: the channel check, not the window's
        (F.conv1d, (X1, np.zeros((3, 0, 6), np.float32)), {}, ValueError,
         "conv1d: kernel must have C_in // groups = 4 input channels (x has 4 channels, "
         "groups=1), got kernel shape (3, 0, 6)"),
        (F.conv1d, (X1, np.zeros((3, 4, 6), np.float32)), {"groups": 2}, ValueError,
         "conv1d: kernel must have C_in // groups = 2 input channels (x has 4 channels, "
         "groups=2), got kernel shape (3, 4, 6)"),
        (F.conv2d, (X2, np.zeros((3, 7, 4, 6), np.float32)), {"padding": (0, (1, 0))}, ValueError,
         "conv2d: kernel window must fit in the padded input on spatial axis 1, got window 7 "
         "(kernel 7, dilation 1) > padded size 6 (size 5, padding (1, 0))"),
        (F.conv2d, (X2, np.zeros((3, 7, 4, 6), np.float32)), {"padding": (0, (0, 1))}, ValueError,
         "conv2d: kernel window must fit in the padded input on spatial axis 1, got window 7 "
         "(kernel 7, dilation 1) > padded size 6 (size 5, padding (0, 1))"),
        (F.conv1d, (X1, K1), {"groups": 2, "dilation": 3}, ValueError,
         "conv1d: kernel window must fit in the padded input on spatial axis 0, got window 7 "
         "(kernel 3, dilation 3) > padded size 6 (size 6, padding (0, 0))"),
        (F.conv1d, (X1, K1, np.zeros((6, 1), np.float32)), {"groups": 2}, ValueError,
         "conv1d: bias must have shape (6,), got shape (6, 1)"),
        (F.conv1d, (X1, K1, [0.0] * 6), {"groups": 2}, TypeError,
         "conv1d: bias must be an array of shape (6,), got list"),
        (F.conv1d, (X1, K1, np.array(["a"] * 6)), {"groups": 2}, TypeError,
         "conv1d: bias must be a numeric array, got dtype <U1"),
        (F.conv1d, (X1, K1), {"groups": 2, "flip": "yes"}, TypeError,
         "conv1d: flip must be a bool, got str 'yes'"),
    ],
)  # fmt: skip
def test_every_check_names_the_function_the_argument_and_what_it_got(
    conv, args, kwargs, exc, message
):
    with pytest.raises(exc, match="^" + re.escape(message) + "$"):
        conv(*args, **kwargs)


def test_a_window_that_exactly_fills_the_padded_input_is_accepted():
    x, k = _rand(6, 1, 4, 2), _rand(7, 3, 2, 1)
    got = F.conv1d(x, k, padding=[(1, 0)], dilation=2)  # window 5 in 4 + 1
    assert got.shape == (1, 1, 1)
    np.testing.assert_allclose(got, reference.conv(x, k, (1,), [(1, 0)], (2,)), **TOL)


def test_the_bias_takes_the_outputs_dtype():
    # a float32 bias on a bfloat16 convolution keeps the output bfloat16 (no silent upcast)
    x, k, b = _rand(8, 1, 5, 2), _rand(9, 2, 2, 3), _rand(10, 3)
    y = F.conv1d(jnp.asarray(x, jnp.bfloat16), jnp.asarray(k, jnp.bfloat16), b)
    assert y.dtype == jnp.bfloat16
    xb, kb = (np.asarray(jnp.asarray(a, jnp.bfloat16), np.float32) for a in (x, k))
    want = reference.conv(xb, kb, (1,), [(0, 0)], (1,), bias=b)
    np.testing.assert_allclose(np.asarray(y, np.float32), want, rtol=2e-2, atol=5e-2)


def test_a_bias_with_a_shape_but_no_dtype_is_refused_by_name():
    class ShapeOnly:
        shape = (6,)

    with pytest.raises(TypeError, match=r"^conv1d: bias must be a numeric array, got dtype None$"):
        F.conv1d(X1, K1, ShapeOnly(), groups=2)


def test_a_forced_lowering_that_cannot_take_the_call_is_refused_by_name():
    with config.lowering("rows"):
        with pytest.raises(
            ValueError,
            match=r"^conv1d: lowering='rows' needs two spatial axes \(conv2d\), got 1$",
        ):
            F.conv1d(np.zeros((1, 5, 4), np.float32), np.zeros((3, 2, 4), np.float32), groups=2)
