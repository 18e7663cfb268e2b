"""conv_transpose1d / 2d: adjoint of conv, naive NumPy scatter, PyTorch shapes (and values if
torch is importable), gradients, transformations and every error message."""

import jax
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from tests import reference
from tests.forced import conv1d, conv2d, conv_transpose1d, conv_transpose2d, cpu_eqns

CONV = {1: conv1d, 2: conv2d}
CONVT = {1: conv_transpose1d, 2: conv_transpose2d}


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _rand64(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape)


@st.composite
def transpose_configs(draw, n):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    window = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    padding = tuple(draw(st.integers(0, 2)) for _ in range(n))
    output_padding = tuple(
        draw(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation, strict=True)
    )
    return dict(
        shape_y=(draw(st.integers(1, 2)), *(draw(st.integers(1, 5)) for _ in range(n)),
                 groups * draw(st.integers(1, 2))),
        window=window,
        cbg=draw(st.integers(1, 2)),
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
        groups=groups,
        bias=draw(st.booleans()),
        seed=draw(st.integers(0, 2**16)),
    )  # fmt: skip


def _check_against_scatter(n, cfg, lowering=None):
    out = [
        (i - 1) * s - 2 * p + d * (k - 1) + op + 1
        for i, s, p, d, k, op in zip(
            cfg["shape_y"][1:-1], cfg["stride"], cfg["padding"], cfg["dilation"],
            cfg["window"], cfg["output_padding"], strict=True,
        )
    ]  # fmt: skip
    assume(min(out) >= 1)
    y = _rand(cfg["seed"], *cfg["shape_y"])
    k = _rand(cfg["seed"] + 1, *cfg["window"], cfg["cbg"], cfg["shape_y"][-1])
    b = _rand(cfg["seed"] + 2, cfg["cbg"] * cfg["groups"]) if cfg["bias"] else None
    args = (cfg["stride"], cfg["padding"], cfg["output_padding"], cfg["dilation"], cfg["groups"])
    want = reference.conv_transpose(y, k, *args, bias=b)
    got = CONVT[n](
        y,
        k,
        b,
        stride=cfg["stride"],
        padding=cfg["padding"],
        output_padding=cfg["output_padding"],
        dilation=cfg["dilation"],
        groups=cfg["groups"],
        lowering=lowering,
    )
    assert got.shape == want.shape == (cfg["shape_y"][0], *out, cfg["cbg"] * cfg["groups"])
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


@given(transpose_configs(1))
def test_conv_transpose1d_matches_naive_scatter(cfg):
    _check_against_scatter(1, cfg)


@given(transpose_configs(2))
def test_conv_transpose2d_matches_naive_scatter(cfg):
    _check_against_scatter(2, cfg)


@pytest.mark.parametrize("lowering", ["lax", "patches", "rows", "lanes"])
@settings(max_examples=max(8, settings.default.max_examples // 3))
@given(cfg=transpose_configs(2))
def test_conv_transpose2d_lowerings_match_naive_scatter(lowering, cfg):
    """Every lowering: "lax" with lhs_dilation, the others phase by phase at strides > 1.

    (The default, "auto", is the test above: phases on the CPU.)
    """
    if lowering in ("rows", "lanes"):
        assume(cfg["groups"] == 1)
    _check_against_scatter(2, cfg, lowering)


@pytest.mark.parametrize("lowering", ["lax", "patches", "lanes"])
@settings(max_examples=max(8, settings.default.max_examples // 3))
@given(cfg=transpose_configs(1))
def test_conv_transpose1d_lowerings_match_naive_scatter(lowering, cfg):
    if lowering == "lanes":
        assume(cfg["groups"] == 1)
    _check_against_scatter(1, cfg, lowering)


@pytest.mark.parametrize("lowering", ["lax", "patches", "rows", "lanes"])
def test_conv_transpose_lowerings_are_adjoint_and_differentiable(lowering):
    """<conv(x), y> == <x, conv_transpose(y)> through each lowering, and second-order grads."""
    kw = dict(stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    x, k = _rand64(0, 2, 7, 8, 2), _rand64(1, 3, 2, 2, 3)
    with jax.enable_x64(True):
        y = np.asarray(conv2d(x, k, **kw))
        y = _rand64(2, *y.shape)
        ty = conv_transpose2d(y, k, lowering=lowering, **kw)
        lhs = float(np.sum(np.asarray(conv2d(x, k, **kw)) * y))
        assert ty.shape == x.shape
        np.testing.assert_allclose(float(np.sum(np.asarray(ty) * x)), lhs, rtol=1e-10)
        check_grads(
            lambda y, k: conv_transpose2d(y, k, lowering=lowering, **kw),
            (y, k),
            order=2,
            modes=["fwd", "rev"],
        )


@pytest.mark.parametrize("lowering", ["patches", "rows", "lanes"])
@pytest.mark.parametrize(
    "kw", [dict(stride=2, padding=1, output_padding=1), dict(stride=(2, 1), dilation=(1, 2))]
)
def test_a_stack_with_a_lowered_transpose_has_the_gradients_of_an_all_lax_stack(lowering, kw):
    # A lax.pad's gradient is a crop that XLA may fold into the next convolution
    # (openxla/xla#48715); the phases pad only with concatenations and slices: jit a lax /
    # transpose / lax stack and compare.
    x, k1 = _rand(0, 2, 9, 9, 2), _rand(1, 3, 3, 2, 3)
    kt, k3 = _rand(2, 3, 3, 2, 3), _rand(3, 2, 2, 2, 2)

    def loss(x, ks, low):
        h = jax.nn.relu(conv2d(x, ks[0], padding=1, lowering="lax"))
        h = jax.nn.relu(conv_transpose2d(h, ks[1], lowering=low, **kw))
        h = conv2d(h, ks[2], padding=((1, 0), (0, 1)), lowering="lax")
        return (h * jax.numpy.cos(h)).sum()

    grad = jax.grad(loss, argnums=(0, 1))
    got = jax.jit(grad, static_argnums=2)(x, (k1, kt, k3), lowering)
    want = jax.jit(grad, static_argnums=2)(x, (k1, kt, k3), "lax")
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        w = np.asarray(w)
        np.testing.assert_allclose(np.asarray(g), w, rtol=0, atol=1e-4 * np.abs(w).max())


def _lhs_dilations(fn, *args, **kwargs):
    """The ``lhs_dilation`` of every ``conv_general_dilated`` in ``fn``'s jaxpr, nested ones too."""
    jaxpr = jax.make_jaxpr(lambda *a: fn(*a, **kwargs))(*args)
    return [
        tuple(e.params["lhs_dilation"])
        for e in cpu_eqns(jaxpr)
        if e.primitive.name == "conv_general_dilated"
    ]


def test_conv_transpose_strides_run_by_phases_unless_lax_is_forced_and_errors_say_why():
    # On the CPU "auto" (and every forced lowering but "lax") correlates the undilated input
    # phase by phase (_subpixel); a forced "lax" keeps one convolution with lhs_dilation, as
    # "auto" does on GPU and TPU.
    y, k = _rand(0, 2, 5, 5, 8), _rand(1, 3, 3, 6, 8)
    assert _lhs_dilations(conv_transpose2d, y, k, stride=2, lowering="lax") == [(2, 2)]
    for lowering in ("auto", "rows", "patches"):
        dilations = _lhs_dilations(conv_transpose2d, y, k, stride=2, lowering=lowering)
        assert all(d == (1,) * len(d) for d in dilations), (lowering, dilations)
    one_d = _lhs_dilations(conv_transpose1d, y[:, 0], k[0], stride=3)  # 1-D phases: "lax"
    assert one_d == [(1,)] * 3  # three phases of one tap each
    with pytest.raises(ValueError, match=r"conv_transpose2d: groups must be 1 for lowering='rows'"):
        conv_transpose2d(y, k[..., :4, :], groups=2, lowering="rows")
    with pytest.raises(ValueError, match=r"conv_transpose1d: lowering='rows' needs two spatial"):
        conv_transpose1d(y[:, 0], k[0], lowering="rows")
    with pytest.raises(ValueError, match=r"lowering: lowering must be one of"):
        conv_transpose2d(y, k, lowering="fft")


def _conv_paddings(fn, *args, **kwargs):
    jaxpr = jax.make_jaxpr(lambda *a: fn(*a, **kwargs))(*args)
    return [
        e.params["padding"] for e in cpu_eqns(jaxpr) if e.primitive.name == "conv_general_dilated"
    ]


@pytest.mark.parametrize("n", [1, 2])
def test_conv_transpose_never_hands_xla_a_negative_padding(n):
    # XLA's CPU convolution reads out of bounds for a negative low padding (openxla/xla#48713);
    # padding > dilation * (K - 1) must crop with a slice instead, and still match the scatter.
    y = _rand(0, 2, *(7,) * n, 17)
    k = _rand(1, *(2,) * n, 17, 17)
    kw = dict(stride=1, padding=4, output_padding=2, dilation=3)
    (pads,) = _conv_paddings(CONVT[n], y, k, **kw)
    assert all(lo >= 0 and hi >= 0 for lo, hi in pads), pads
    want = reference.conv_transpose(y, k, (1,) * n, (4,) * n, (2,) * n, (3,) * n, 1)
    got = jax.jit(lambda a, b: CONVT[n](a, b, **kw))(y, k)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("lowering", ["auto", "lax"])  # phases; one lhs-dilated convolution
@pytest.mark.parametrize("groups", [1, 2])
def test_conv_transpose_survives_xlas_operand_swap(groups, lowering):
    # An input narrower than the window makes XLA swap the convolution's operands; an unpadded
    # axis with window 2 and stride 2 then used to abort the compiler (a hypothesis example
    # that killed a CI worker). Eager, jitted and differentiated, it must match the scatter.
    y = _rand(0, 2, 3, 1, groups)
    k = _rand(1, 2, 2, 1, groups)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(0, 2), groups=groups)
    want = reference.conv_transpose(y, k, (2, 3), (1, 0), (0, 2), (1, 1), groups)
    f = lambda a, b: conv_transpose2d(a, b, lowering=lowering, **kw)  # noqa: E731
    np.testing.assert_allclose(np.asarray(f(y, k)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(y, k)), want, rtol=1e-5, atol=1e-5)
    with jax.enable_x64(True):
        check_grads(f, (y.astype(np.float64), k.astype(np.float64)), order=2, modes=["fwd", "rev"])


@st.composite
def adjoint_configs(draw, n):
    groups = draw(st.sampled_from([1, 2]))
    return dict(
        sizes=tuple(draw(st.integers(3, 9)) for _ in range(n)),
        window=tuple(draw(st.integers(1, 3)) for _ in range(n)),
        stride=tuple(draw(st.integers(1, 3)) for _ in range(n)),
        dilation=tuple(draw(st.integers(1, 2)) for _ in range(n)),
        padding=tuple(draw(st.integers(0, 2)) for _ in range(n)),
        c_b=groups * draw(st.integers(1, 2)),
        c_a=groups * draw(st.integers(1, 2)),
        groups=groups,
        seed=draw(st.integers(0, 2**16)),
    )


def _check_adjoint(n, cfg):
    eff = [(k - 1) * d + 1 for k, d in zip(cfg["window"], cfg["dilation"], strict=True)]
    sizes, pads = cfg["sizes"], cfg["padding"]
    assume(all(s + 2 * p >= e for s, p, e in zip(sizes, pads, eff, strict=True)))
    x = _rand(cfg["seed"], 2, *sizes, cfg["c_b"])
    k = _rand(cfg["seed"] + 1, *cfg["window"], cfg["c_b"] // cfg["groups"], cfg["c_a"])
    kw = dict(stride=cfg["stride"], dilation=cfg["dilation"], groups=cfg["groups"])

    def conv(v):
        return CONV[n](v, k, padding=tuple((p, p) for p in pads), **kw)

    fx, vjp = jax.vjp(conv, x)
    y = _rand(cfg["seed"] + 2, *fx.shape)
    # The strided conv maps several input sizes to one output size: output_padding picks ours.
    out_pad = tuple(
        s - ((a - 1) * st_ - 2 * p + (w - 1) * d + 1)
        for s, a, st_, p, w, d in zip(
            sizes, fx.shape[1:-1], cfg["stride"], pads, cfg["window"], cfg["dilation"],
            strict=True,
        )
    )  # fmt: skip
    xt = CONVT[n](y, k, padding=pads, output_padding=out_pad, **kw)
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.asarray(xt), np.asarray(vjp(y)[0]), rtol=1e-4, atol=1e-4)
    lhs = np.vdot(np.asarray(fx, np.float64), y.astype(np.float64))
    rhs = np.vdot(x.astype(np.float64), np.asarray(xt, np.float64))
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4, atol=1e-3)


# Each example compiles a conv and its VJP: half the profile's budget keeps the suite quick.
HALF = settings(max_examples=max(10, settings().max_examples // 2))


@HALF
@given(adjoint_configs(1))
def test_conv_transpose1d_is_adjoint_of_conv1d(cfg):
    _check_adjoint(1, cfg)


@HALF
@given(adjoint_configs(2))
def test_conv_transpose2d_is_adjoint_of_conv2d(cfg):
    _check_adjoint(2, cfg)


@pytest.mark.parametrize(
    "size,k,s,p,op,d,want",
    [(5, 3, 2, 1, 1, 1, 10), (4, 4, 2, 1, 0, 1, 8), (7, 3, 1, 0, 0, 2, 11), (3, 1, 3, 0, 2, 1, 9)],
)
def test_pytorch_output_size_formula(size, k, s, p, op, d, want):
    # Worked by hand: (size - 1) * s - 2p + d(k - 1) + op + 1, e.g. 4*2 - 2 + 2 + 1 + 1 = 10.
    y, w = _rand(0, 1, size, size, 2), _rand(1, k, k, 3, 2)
    got = conv_transpose2d(y, w, stride=s, padding=p, output_padding=op, dilation=d)
    assert got.shape == (1, want, want, 3)


def test_matches_torch_when_available():
    torch = pytest.importorskip("torch")
    from jaxcnn.functional.layout import kernel_from_torch, to_channels_first, to_channels_last

    y = _rand(3, 2, 4, 3, 5)  # NCHW for torch, C_a = 4
    w = _rand(4, 4, 3, 3, 2)  # ConvTranspose2d(4 -> 6, groups=2).weight: (C_a, C_b/g, KH, KW)
    b = _rand(5, 6)
    kw = dict(stride=(2, 1), padding=(1, 0), output_padding=(1, 0), dilation=(1, 2), groups=2)
    want = torch.nn.functional.conv_transpose2d(
        torch.from_numpy(y), torch.from_numpy(w), torch.from_numpy(b), **kw
    ).numpy()
    got = conv_transpose2d(to_channels_last(y), kernel_from_torch(w, transposed=True), b, **kw)
    np.testing.assert_allclose(np.asarray(to_channels_first(got)), want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n", [1, 2])
def test_gradients_order_2(n):
    y = _rand64(6, 1, *([3] * n), 2)
    k = _rand64(7, *([2] * n), 2, 2) * 0.5
    b = _rand64(8, 4)

    def f(y, k, b):
        return CONVT[n](y, k, b, stride=2, padding=1, output_padding=1, groups=2)

    with jax.enable_x64(True):  # float64: check_grads' tight default tolerances
        check_grads(f, (y, k, b), order=2, modes=["fwd", "rev"])


def test_jit_equals_eager_and_vmap_equals_loop():
    y, k, b = _rand(9, 3, 2, 4, 3, 2), _rand(10, 3, 2, 5, 2), _rand(11, 5)

    def f(y):
        return conv_transpose2d(y, k, b, stride=(2, 3), padding=(1, 0), output_padding=(0, 2))

    eager = np.stack([np.asarray(f(yi)) for yi in y])
    np.testing.assert_allclose(np.asarray(jax.vmap(f)(y)), eager, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(jax.jit(f)(y[0])), eager[0], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("lowering", ["auto", "patches", "rows", "lanes"])
def test_phases_vmap_over_kernels_and_keep_bfloat16(lowering):
    # The phase path slices the kernel per phase: a batch of kernels must map through it, and
    # a bfloat16 transposed convolution must stay bfloat16 and near the float32 one.
    y, ks = _rand(12, 2, 5, 4, 3), _rand(13, 4, 3, 4, 2, 3)
    kw = dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), lowering=lowering)
    loop = np.stack([np.asarray(conv_transpose2d(y, k, **kw)) for k in ks])
    mapped = jax.vmap(lambda k: conv_transpose2d(y, k, **kw))(ks)
    np.testing.assert_allclose(np.asarray(mapped), loop, rtol=1e-5, atol=1e-5)
    got = conv_transpose2d(y.astype(jax.numpy.bfloat16), ks[0].astype(jax.numpy.bfloat16), **kw)
    assert got.dtype == jax.numpy.bfloat16
    np.testing.assert_allclose(np.asarray(got, np.float32), loop[0], rtol=0, atol=0.05)


Y2, K2 = np.zeros((1, 4, 4, 6), np.float32), np.zeros((3, 3, 2, 6), np.float32)


@pytest.mark.parametrize(
    "args,kwargs,exc,match",
    [
        ((Y2[0], K2), {}, ValueError,
         r"conv_transpose2d: x must have rank 4 \(N, H, W, C\), got shape \(4, 4, 6\)"),
        ((Y2, K2[0]), {}, ValueError,
         r"conv_transpose2d: kernel must have rank 4 \(KH, KW, C_b // groups, C_a\)"),
        ((Y2.astype(np.int32), K2), {}, TypeError,
         r"conv_transpose2d: x must have a floating dtype, got int32"),
        ((Y2, np.zeros((3, 3, 2, 5), np.float32)), {}, ValueError,
         r"conv_transpose2d: kernel must have C_a = 6 \(the channels of x\) on its last axis"),
        ((Y2, K2), {"groups": 4}, ValueError,
         r"conv_transpose2d: groups must divide the input channels 6, got 4"),
        ((Y2, K2), {"groups": 1.0}, TypeError, r"conv_transpose2d: groups must be an int"),
        ((Y2, K2), {"stride": 0}, ValueError, r"conv_transpose2d: stride must be positive"),
        ((Y2, K2), {"stride": 2.0}, TypeError, r"conv_transpose2d: stride must be an int or 2"),
        ((Y2, K2), {"dilation": (1, 0)}, ValueError,
         r"conv_transpose2d: dilation must be positive, got \(1, 0\)"),
        ((Y2, K2), {"padding": -1}, ValueError,
         r"conv_transpose2d: padding must be non-negative, got \(-1, -1\)"),
        ((Y2, K2), {"padding": "SAME"}, TypeError, r"conv_transpose2d: padding must be an int"),
        ((Y2, K2), {"stride": 2, "output_padding": 2}, ValueError,
         r"conv_transpose2d: output_padding must be smaller than max\(stride, dilation\) "
         r"\(2, 2\), got \(2, 2\)"),
        ((Y2, K2), {"output_padding": -1}, ValueError,
         r"conv_transpose2d: output_padding must be non-negative"),
        ((Y2, K2), {"padding": 4}, ValueError,
         r"conv_transpose2d: output size must be positive, got \(-2, -2\)"),
        ((Y2, K2, np.zeros((6,), np.float32)), {}, ValueError,
         r"conv_transpose2d: bias must have shape \(2,\), got shape \(6,\)"),
    ],
)  # fmt: skip
def test_conv_transpose2d_errors(args, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        conv_transpose2d(*args, **kwargs)


def test_conv_transpose1d_errors():
    y, k = np.zeros((1, 4, 2), np.float32), np.zeros((3, 1, 2), np.float32)
    with pytest.raises(ValueError, match=r"conv_transpose1d: x must have rank 3 \(N, W, C\)"):
        conv_transpose1d(y[0], k)
    with pytest.raises(ValueError, match=r"conv_transpose1d: output_padding must be smaller"):
        conv_transpose1d(y, k, output_padding=1)
    assert conv_transpose1d(y, k, output_padding=1, dilation=2).shape == (1, 9, 1)
