"""conv1d / conv2d against naive NumPy loops, scipy, jax.lax and the notes' worked examples."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.signal
from hypothesis import assume, given
from hypothesis import strategies as st
from jax import lax
from jax.test_util import check_grads

from jaxcnn import config
from tests import reference
from tests.forced import conv1d, conv2d

CONV = {1: conv1d, 2: conv2d}
TOL = {"rtol": 1e-5, "atol": 1e-5}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _rand64(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


# --- the notes' worked examples ---------------------------------------------------------


def test_notes_binary_image_convolved_feature():
    image = np.array(
        [[1, 1, 1, 0, 0], [0, 1, 1, 1, 0], [0, 0, 1, 1, 1], [0, 0, 1, 1, 0], [0, 1, 1, 0, 0]],
        np.float32,
    )
    kernel = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], np.float32)
    want = np.array([[4, 3, 4], [2, 4, 3], [2, 3, 4]], np.float32)
    for flip in (False, True):  # the kernel is symmetric: both definitions agree
        got = conv2d(image[None, :, :, None], kernel[:, :, None, None], flip=flip)
        np.testing.assert_array_equal(np.asarray(got)[0, :, :, 0], want)


def test_notes_zero_padded_4x4_keeps_size():
    image = np.array([[35, 19, 25, 6], [13, 22, 16, 53], [4, 3, 7, 10], [9, 8, 1, 3]], np.float32)[
        None, :, :, None
    ]
    box = np.ones((3, 3, 1, 1), np.float32)  # sums each 3x3 neighbourhood
    padded6 = np.pad(image, [(0, 0), (1, 1), (1, 1), (0, 0)])  # the notes' 6x6 table
    assert padded6.shape == (1, 6, 6, 1) and padded6[0, 1, 1, 0] == 35
    want = np.asarray(conv2d(padded6, box))
    for padding in ("SAME", 1, ((1, 1), (1, 1))):  # p = floor(w_k / 2) = 1
        got = np.asarray(conv2d(image, box, padding=padding))
        assert got.shape == (1, 4, 4, 1)
        np.testing.assert_array_equal(got, want)
    # Hand sums: the corner sees 35 + 19 + 13 + 22; the next one the whole top-left 3x3.
    assert want[0, 0, 0, 0] == 89 and want[0, 1, 1, 0] == 144
    assert want[0, 3, 3, 0] == 7 + 10 + 1 + 3


def test_sobel_finds_the_vertical_edge_of_a_step():
    step = np.zeros((1, 6, 8, 1), np.float32)
    step[:, :, 4:] = 1.0  # dark left half, bright right half: one vertical edge
    vertical = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32)[:, :, None, None]
    horizontal = np.array([[-1, -2, -1], [0, 0, 0], [1, 2, 1]], np.float32)[:, :, None, None]
    gv = np.asarray(conv2d(step, vertical))[0, :, :, 0]
    gh = np.asarray(conv2d(step, horizontal))[0, :, :, 0]
    # Output column j covers input columns j..j+2: it straddles the edge for j = 2, 3.
    want_row = np.array([0, 0, 4, 4, 0, 0], np.float32)
    np.testing.assert_array_equal(gv, np.tile(want_row, (4, 1)))
    np.testing.assert_array_equal(gh, np.zeros((4, 6), np.float32))


# --- flip: true convolution -------------------------------------------------------------


def test_flip_is_scipy_convolve2d_and_reversed_correlation():
    x, k = _rand(0, 2, 7, 6, 3), _rand(1, 3, 4, 3, 2)
    got = np.asarray(conv2d(x, k, flip=True))
    reversed_k = np.asarray(conv2d(x, k[::-1, ::-1]))
    np.testing.assert_allclose(got, reversed_k, **TOL)
    for n in range(2):
        for o in range(2):
            want = sum(
                scipy.signal.convolve2d(x[n, :, :, c], k[:, :, c, o], mode="valid")
                for c in range(3)
            )
            np.testing.assert_allclose(got[n, :, :, o], want, **TOL)


def test_flip_full_and_causal_1d_are_numpy_convolve():
    x, k = _rand(2, 1, 9, 1), _rand(3, 4, 1, 1)
    full = np.convolve(x[0, :, 0], k[:, 0, 0], mode="full")
    got_full = np.asarray(conv1d(x, k, padding="FULL", flip=True))[0, :, 0]
    np.testing.assert_allclose(got_full, full, **TOL)
    # Causal: output t is the full convolution at t, i.e. it only sees inputs <= t.
    got_causal = np.asarray(conv1d(x, k, padding="causal", flip=True))[0, :, 0]
    np.testing.assert_allclose(got_causal, full[:9], **TOL)


def test_causal_output_ignores_the_future():
    x, k = _rand(4, 1, 10, 2), _rand(5, 3, 2, 2)
    y = np.asarray(conv1d(x, k, padding="CAUSAL", dilation=2))
    x2 = x.copy()
    x2[:, 6:] += 5.0
    y2 = np.asarray(conv1d(x2, k, padding="CAUSAL", dilation=2))
    assert y.shape == (1, 10, 2)
    np.testing.assert_array_equal(y[:, :6], y2[:, :6])
    assert not np.allclose(y[:, 6:], y2[:, 6:])


# --- random configurations against the naive loop ---------------------------------------


@st.composite
def conv_configs(draw, n):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cig, cog = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    window = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    sizes = tuple(draw(st.integers(1, 8 if n == 2 else 12)) for _ in range(n))
    modes = ["VALID", "SAME", "FULL", "int", "pairs"] + (["CAUSAL"] if n == 1 else [])
    mode = draw(st.sampled_from(modes))
    if mode == "int":
        padding = draw(st.integers(0, 2))
    elif mode == "pairs":
        padding = tuple((draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(n))
    else:
        padding = draw(st.sampled_from([mode, mode.lower()]))
    return dict(
        shape_x=(draw(st.integers(1, 2)), *sizes, cig * groups),
        shape_k=(*window, cig, cog * groups),
        stride=stride,
        dilation=dilation,
        groups=groups,
        padding=padding,
        flip=draw(st.booleans()),
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )


def _check_against_reference(n, cfg):
    x, k = _rand(cfg["seed"], *cfg["shape_x"]), _rand(cfg["seed"] + 1, *cfg["shape_k"])
    b = _rand(cfg["seed"] + 2, cfg["shape_k"][-1]) if cfg["bias"] else None
    pads = reference.explicit_pads(
        cfg["padding"], cfg["shape_x"][1:-1], cfg["shape_k"][:n], cfg["stride"], cfg["dilation"]
    )
    eff = [(w - 1) * d + 1 for w, d in zip(cfg["shape_k"][:n], cfg["dilation"], strict=True)]
    assume(
        all(
            s + lo + hi >= e for s, (lo, hi), e in zip(cfg["shape_x"][1:-1], pads, eff, strict=True)
        )
    )
    want = reference.conv(x, k, cfg["stride"], pads, cfg["dilation"], cfg["groups"], cfg["flip"], b)
    got = CONV[n](
        x,
        k,
        b,
        stride=cfg["stride"],
        padding=cfg["padding"],
        dilation=cfg["dilation"],
        groups=cfg["groups"],
        flip=cfg["flip"],
    )
    assert got.shape == want.shape
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


@given(conv_configs(1))
def test_conv1d_matches_naive_loop(cfg):
    _check_against_reference(1, cfg)


@given(conv_configs(2))
def test_conv2d_matches_naive_loop(cfg):
    _check_against_reference(2, cfg)


@pytest.mark.parametrize("size,stride,k,dilation", [(7, 2, 3, 1), (8, 3, 4, 1), (9, 2, 2, 3)])
def test_same_matches_lax_for_strides(size, stride, k, dilation):
    x, w = _rand(6, 2, size, size + 1, 2), _rand(7, k, k, 2, 3)
    want = lax.conv_general_dilated(
        x, w, (stride, stride), "SAME", rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )  # fmt: skip
    got = conv2d(x, w, stride=stride, padding="SAME", dilation=dilation)
    assert got.shape == (2, -(-size // stride), -(-(size + 1) // stride), 3)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), **TOL)


def test_depthwise_is_per_channel_conv():
    x, k = _rand(8, 2, 6, 6, 4), _rand(9, 3, 3, 1, 4)
    got = np.asarray(conv2d(x, k, groups=4, padding=1))
    for c in range(4):
        one = np.asarray(conv2d(x[..., c : c + 1], k[..., c : c + 1], padding=1))
        np.testing.assert_allclose(got[..., c : c + 1], one, **TOL)


# --- transformations --------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2])
def test_gradients_order_2(n):
    x = _rand64(10, 1, *([5] * n), 2)
    k = _rand64(11, *([2] * n), 1, 2) * 0.5
    b = _rand64(12, 2)

    def f(x, k, b):
        return CONV[n](x, k, b, stride=2, padding=1, dilation=1, groups=2, flip=True)

    with jax.enable_x64(True):  # float64: check_grads' tight default tolerances
        check_grads(f, (x, k, b), order=2, modes=["fwd", "rev"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradient_survives_xlas_operand_swap(dtype):
    # JAX's input gradient of this convolution (kernel = stride = 2, padding 1 on an even axis,
    # an output narrower than the kernel on the other) used to abort XLA's CPU compiler when
    # lax.conv_general_dilated got the padding; the gradients must now match a plain lax conv
    # evaluated op by op, eagerly and under jit.
    x = _rand64(13, 2, 4, 4, 1).astype(dtype)
    k = _rand64(14, 2, 3, 1, 2).astype(dtype)
    ct = _rand64(15, 2, 3, 1, 2).astype(dtype)

    def f(x, k):
        return conv2d(x, k, stride=2, padding=((1, 1), (0, 0)), lowering="lax")

    with jax.enable_x64(dtype == np.float64):
        out, vjp = jax.vjp(f, x, k)
        want = reference.conv(x, k, (2, 2), ((1, 1), (0, 0)), (1, 1), 1)
        np.testing.assert_allclose(np.asarray(out), want, rtol=1e-5, atol=1e-5)
        grads = jax.jit(vjp)(ct)
        # The adjoint identities <f(x), ct> = <x, dx> and <f(k), ct> = <k, dk> (f is bilinear).
        np.testing.assert_allclose(np.vdot(want, ct), np.vdot(x, grads[0]), rtol=1e-4)
        np.testing.assert_allclose(np.vdot(want, ct), np.vdot(k, grads[1]), rtol=1e-4)


def test_jit_equals_eager_and_vmap_equals_loop():
    x, k, b = _rand(13, 3, 2, 7, 6, 2), _rand(14, 3, 3, 2, 4), _rand(15, 4)

    def f(x):
        return conv2d(x, k, b, stride=(2, 1), padding="SAME", dilation=(1, 2))

    eager = np.stack([np.asarray(f(xi)) for xi in x])
    np.testing.assert_allclose(np.asarray(jax.vmap(f)(x)), eager, **TOL)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(x[0])), eager[0], **TOL)


def test_jit_compiles_once_for_the_same_shapes():
    traces = []

    @jax.jit
    def f(x, k):
        traces.append(x.shape)  # runs only while tracing
        return conv2d(x, k, padding="SAME")

    k = _rand(20, 3, 3, 2, 2)
    f(_rand(21, 1, 6, 6, 2), k)
    f(_rand(22, 1, 6, 6, 2), k)
    assert len(traces) == 1
    f(_rand(23, 1, 7, 6, 2), k)
    assert len(traces) == 2


def test_lowering_argument_and_config():
    x, k = _rand(16, 1, 5, 5, 1), _rand(17, 3, 3, 1, 1)
    base = np.asarray(
        lax.conv_general_dilated(x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    )
    # "lax" is exactly one lax call; "auto" may choose another lowering: same numbers, rounded.
    np.testing.assert_array_equal(np.asarray(conv2d(x, k, lowering="lax")), base)
    np.testing.assert_allclose(np.asarray(conv2d(x, k)), base, **TOL)
    assert config.default_lowering() == "auto"
    with config.lowering("lax"):
        assert config.default_lowering() == "lax"
        np.testing.assert_array_equal(np.asarray(conv2d(x, k)), base)  # the default is now lax
    assert config.default_lowering() == "auto"
    with pytest.raises(
        ValueError, match=r"lowering must be one of \['auto', 'lax'.*got 'winograd'"
    ):
        with config.lowering("winograd"):
            pass
    with pytest.raises(ValueError, match=r"lowering: lowering must be one of .*got 'fft'"):
        conv2d(x, k, lowering="fft")


def test_mixed_dtypes_promote():
    x, k = _rand(18, 1, 4, 1), _rand(19, 2, 1, 1)
    y = conv1d(jnp.asarray(x, jnp.bfloat16), k)
    assert y.dtype == jnp.float32


# --- errors -----------------------------------------------------------------------------

X2, K2 = np.zeros((1, 5, 5, 4), np.float32), np.zeros((3, 3, 4, 6), np.float32)


@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        ((np.zeros((5, 5, 4), np.float32), K2), {}, ValueError,
         r"conv2d: x must have rank 4 \(N, H, W, C\), got shape \(5, 5, 4\)"),
        ((X2, np.zeros((3, 4, 6), np.float32)), {}, ValueError,
         r"conv2d: kernel must have rank 4 \(KH, KW, C_in // groups, C_out\), got shape"),
        (([[1.0]], K2), {}, TypeError, r"conv2d: x must be an array"),
        ((X2.astype(np.int32), K2), {}, TypeError, r"conv2d: x must have a floating dtype"),
        ((X2, np.zeros((3, 3, 3, 6), np.float32)), {}, ValueError,
         r"conv2d: kernel must have C_in // groups = 4 input channels .*got kernel shape"),
        ((X2, np.zeros((3, 3, 2, 6), np.float32)), {"groups": 3}, ValueError,
         r"conv2d: groups must divide the input channels 4, got 3"),
        ((X2, np.zeros((3, 3, 2, 5), np.float32)), {"groups": 2}, ValueError,
         r"conv2d: groups must divide the output channels \(kernel.shape\[-1\] = 5\), got 2"),
        ((X2, K2), {"groups": 0}, ValueError, r"conv2d: groups must be positive, got \(0,\)"),
        ((X2, K2), {"groups": 2.0}, TypeError, r"conv2d: groups must be an int"),
        ((X2, K2), {"stride": 0}, ValueError, r"conv2d: stride must be positive, got \(0, 0\)"),
        ((X2, K2), {"stride": (1, -2)}, ValueError, r"conv2d: stride must be positive"),
        ((X2, K2), {"stride": 1.5}, TypeError, r"conv2d: stride must be an int or 2 ints, got"),
        ((X2, K2), {"stride": (1, 2, 3)}, ValueError, r"conv2d: stride must be an int or 2 ints"),
        ((X2, K2), {"dilation": 0}, ValueError, r"conv2d: dilation must be positive"),
        ((X2, K2), {"dilation": (1, 2.0)}, TypeError, r"conv2d: dilation must contain ints"),
        ((X2, K2), {"padding": "REFLECT"}, ValueError,
         r"conv2d: padding must be one of \['VALID', 'SAME', 'FULL', 'CAUSAL'\].*got 'REFLECT'"),
        ((X2, K2), {"padding": "CAUSAL"}, ValueError,
         r"conv2d: padding must be 'CAUSAL' only for 1D convolutions, got 2 spatial axes"),
        ((X2, K2), {"padding": 1.0}, TypeError, r"conv2d: padding must be a string, an int or"),
        ((X2, K2), {"padding": ((1, 1.0), (0, 0))}, TypeError,
         r"conv2d: padding must contain ints"),
        ((X2, K2), {"padding": -1}, ValueError, r"conv2d: padding must be non-negative, got -1"),
        ((X2, K2), {"padding": ((1, 1),)}, ValueError,
         r"conv2d: padding must have one int or \(low, high\) pair per spatial axis \(2\)"),
        ((X2, K2), {"dilation": 3}, ValueError,
         r"conv2d: kernel window must fit in the padded input on spatial axis 0, got window 7 "
         r"\(kernel 3, dilation 3\) > padded size 5"),
        ((X2, K2, np.zeros((5,), np.float32)), {}, ValueError,
         r"conv2d: bias must have shape \(6,\), got shape \(5,\)"),
        ((X2, K2, 1.0), {}, TypeError, r"conv2d: bias must be an array of shape \(6,\), got float"),
        ((X2, K2), {"flip": 1}, TypeError, r"conv2d: flip must be a bool, got int 1"),
    ],
)  # fmt: skip
def test_conv2d_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        conv2d(*args, **kwargs)


def test_conv1d_errors():
    x, k = np.zeros((2, 4, 3), np.float32), np.zeros((5, 3, 2), np.float32)
    with pytest.raises(ValueError, match=r"conv1d: x must have rank 3 \(N, W, C\), got shape"):
        conv1d(x[0], k)
    with pytest.raises(ValueError, match=r"conv1d: kernel window must fit in the padded input"):
        conv1d(x, k)
    with pytest.raises(ValueError, match=r"conv1d: padding must have one int or \(low, high\)"):
        conv1d(x, k, padding=(2, 2))
    assert conv1d(x, k, padding=[(2, 2)]).shape == (2, 4, 2)
    assert conv1d(x, k, padding="same").shape == (2, 4, 2)


@pytest.mark.parametrize("lowering", ["lax", "lanes", "patches"])
def test_degenerate_shapes_and_bias_fail_by_name(lowering):
    x = np.ones((1, 5, 5, 2), np.float32)
    with pytest.raises(ValueError, match=r"conv2d: kernel must have a window of size >= 1"):
        conv2d(x, np.ones((0, 3, 2, 4), np.float32), lowering=lowering)
    with pytest.raises(ValueError, match=r"conv2d: x must have at least one input channel"):
        conv2d(x[..., :0], np.ones((3, 3, 0, 4), np.float32), lowering=lowering)
    with pytest.raises(TypeError, match=r"conv2d: bias must be a numeric array, got dtype <U"):
        conv2d(x, np.ones((3, 3, 2, 4), np.float32), np.array(["a"] * 4), lowering=lowering)


def test_layer_norm_epsilon_zero_is_refused():
    import jaxcnn.functional as F

    with pytest.raises(ValueError, match=r"layer_norm: epsilon must be > 0"):
        F.layer_norm(np.ones((2, 4), np.float32), epsilon=0.0)
