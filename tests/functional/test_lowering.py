"""Every convolution lowering against the naive NumPy reference, and against "lax" in gradient."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from jaxcnn import config
from jaxcnn._cpu.engine import LOWERING_FUNCTIONS
from jaxcnn._cpu.lanes import MAX_TERMS
from jaxcnn._cpu.rule import LOWERINGS, fallback_lowering
from tests import reference
from tests.forced import conv1d, conv2d, cpu_eqns

CONV = {1: conv1d, 2: conv2d}
TOL = {"rtol": 2e-5, "atol": 2e-5}
# Each example compiles at least twice: a third of the profile's budget keeps the file short.
FEW = settings(max_examples=max(8, settings.default.max_examples // 3))


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


@st.composite
def conv_cases(draw, n, max_channels=4):
    """A random valid convolution: shapes, strides, paddings, dilations, groups, flip."""
    groups = draw(st.sampled_from([1, 1, 2]))
    c_in = groups * draw(st.integers(1, max_channels // 2 if groups > 1 else max_channels))
    c_out = groups * draw(st.integers(1, 2 if groups > 1 else 3))
    window = tuple(draw(st.integers(1, 3)) for _ in range(n))
    stride = tuple(draw(st.integers(1, 3)) for _ in range(n))
    dilation = tuple(draw(st.integers(1, 2)) for _ in range(n))
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(n)]
    padding = draw(st.sampled_from(["VALID", "SAME", "FULL", "explicit"]))
    sizes = tuple(draw(st.integers(1, 8)) for _ in range(n))
    flip = draw(st.booleans())
    batch = draw(st.integers(1, 2))
    seed = draw(st.integers(0, 2**16))
    return batch, sizes, c_in, c_out, window, stride, dilation, pads, padding, groups, flip, seed


def _check_against_reference(n, case, lowering):
    batch, sizes, c_in, c_out, window, stride, dilation, pads, padding, groups, flip, seed = case
    if padding != "explicit":
        pads = reference.explicit_pads(padding, sizes, window, stride, dilation)
    eff = [(k - 1) * d + 1 for k, d in zip(window, dilation, strict=True)]
    assume(all(s + lo + hi >= e for s, (lo, hi), e in zip(sizes, pads, eff, strict=True)))
    if lowering == "lanes":
        assume(groups == 1 and np.prod(window) * c_in * c_out <= MAX_TERMS)
    if lowering == "rows":
        assume(groups == 1)
    x = _rand(seed, batch, *sizes, c_in)
    k = _rand(seed + 1, *window, c_in // groups, c_out)
    b = _rand(seed + 2, c_out)
    got = CONV[n](
        x,
        k,
        b,
        stride=stride,
        padding=padding if padding != "explicit" else pads,
        dilation=dilation,
        groups=groups,
        flip=flip,
        lowering=lowering,
    )
    want = reference.conv(x, k, stride, pads, dilation, groups, flip, b)
    np.testing.assert_allclose(np.asarray(got), want, **TOL)


@pytest.mark.parametrize("lowering", ["patches", "rows", "lanes"])
@FEW
@given(case=conv_cases(2))
def test_conv2d_lowerings_match_naive_reference(lowering, case):
    _check_against_reference(2, case, lowering)


@pytest.mark.parametrize("lowering", ["patches", "lanes"])
@FEW
@given(case=conv_cases(1, max_channels=6))
def test_conv1d_lowerings_match_naive_reference(lowering, case):
    _check_against_reference(1, case, lowering)


_GRADIENT_CASES = [
    (2, {"stride": (2, 1), "dilation": (1, 2), "padding": ((1, 2), (0, 1))}),
    (2, {"padding": "SAME", "flip": True}),
    (1, {"stride": 2, "padding": "CAUSAL", "dilation": 2}),
]


@pytest.mark.parametrize(
    "lowering, n, kw",
    [
        (low, n, kw)
        for low in ("patches", "rows", "lanes")
        for n, kw in _GRADIENT_CASES
        if not (low == "rows" and n == 1)  # rows is a 2-D lowering
    ],
)
def test_gradients_equal_lax(lowering, n, kw):
    """jax.grad of a loss through each lowering equals the one through lax.conv, for x, k, b."""
    x = _rand(0, 2, *(7,) * n, 3)
    k = _rand(1, *(3,) * n, 3, 2)
    b = _rand(2, 2)
    w = _rand(3, *np.asarray(CONV[n](x, k, b, lowering="lax", **kw)).shape)

    def loss(x, k, b, low):
        return jnp.sum(jnp.tanh(CONV[n](x, k, b, lowering=low, **kw)) * w)

    want = jax.grad(loss, argnums=(0, 1, 2))(x, k, b, "lax")
    got = jax.grad(loss, argnums=(0, 1, 2))(x, k, b, lowering)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-4, atol=1e-5)


def test_grouped_patches_gradients_equal_lax():
    x, k = _rand(0, 2, 6, 5, 4), _rand(1, 3, 2, 2, 6)

    def loss(x, k, low):
        return jnp.sum(conv2d(x, k, stride=(1, 2), padding=1, groups=2, lowering=low) ** 2)

    want = jax.grad(loss, argnums=(0, 1))(x, k, "lax")
    got = jax.grad(loss, argnums=(0, 1))(x, k, "patches")
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-4, atol=1e-4)


def _assert_agrees_with_lax(x, k, lowering, **kw):
    """conv2d through ``lowering`` against ``"lax"``: values, gradients of a tanh loss in x and
    the kernel, and second-order derivatives in both modes (float64)."""

    def loss(x, k, low):
        return jnp.sum(jnp.tanh(conv2d(x, k, lowering=low, **kw)))

    np.testing.assert_allclose(
        np.asarray(conv2d(x, k, lowering=lowering, **kw)),
        np.asarray(conv2d(x, k, lowering="lax", **kw)),
        rtol=1e-5,
        atol=1e-5,
    )
    want = jax.grad(loss, argnums=(0, 1))(x, k, "lax")
    got = jax.grad(loss, argnums=(0, 1))(x, k, lowering)
    for g, r in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(r), rtol=1e-4, atol=1e-5)
    with jax.enable_x64(True):
        check_grads(
            lambda x, k: conv2d(x, k, lowering=lowering, **kw),
            (jnp.asarray(x, jnp.float64), jnp.asarray(k, jnp.float64)),
            order=2,
            modes=["fwd", "rev"],
        )


@pytest.mark.parametrize("groups", [1, 2])
def test_patches_in_batch_chunks_equal_lax(monkeypatch, groups):
    # A patch matrix past CHUNK_ELEMENTS is convolved a few examples at a time (lax.map with
    # the patches recomputed in the backward pass): values, gradients and second-order
    # derivatives in both modes must not notice.
    from jaxcnn._cpu import patches as _lowering_patches

    x, k = _rand(0, 6, 5, 4, 4), _rand(1, 3, 2, 4 // groups, 2)
    kw = dict(stride=(1, 2), padding=1, groups=groups)
    per_example = _lowering_patches.patch_elements(x.shape, k.shape, (1, 2), (1, 1), ((1, 1),) * 2)
    monkeypatch.setattr(_lowering_patches, "CHUNK_ELEMENTS", 2 * per_example)
    assert _lowering_patches.batch_chunk(6, per_example) == 2  # three chunks of two
    _assert_agrees_with_lax(x, k, "patches", **kw)
    jaxpr = str(jax.make_jaxpr(lambda x, k: conv2d(x, k, lowering="patches", **kw))(x, k))
    assert "scan" in jaxpr  # the chunked path ran


def test_batch_chunk_is_the_largest_divisor_that_fits(monkeypatch):
    from jaxcnn._cpu import patches as _lowering_patches

    monkeypatch.setattr(_lowering_patches, "CHUNK_ELEMENTS", 100)
    assert _lowering_patches.batch_chunk(256, 10) == 8  # 10 would fit, but does not divide 256
    assert _lowering_patches.batch_chunk(7, 10) == 7  # the whole batch fits: one piece
    assert _lowering_patches.batch_chunk(13, 50) == 1  # a prime batch: one example at a time
    assert _lowering_patches.batch_chunk(4, 1000) == 1  # one example past the budget still runs
    assert _lowering_patches.batch_chunk(0, 10) == 0  # an empty batch: one (empty) piece


@pytest.mark.parametrize("lowering", ["auto", *LOWERINGS])
def test_an_empty_batch_gives_an_empty_output(lowering):
    x, k = jnp.zeros((0, 5, 5, 2)), jnp.zeros((3, 3, 2, 2))
    assert conv2d(x, k, padding=1, lowering=lowering).shape == (0, 5, 5, 2)
    g = jax.grad(lambda k: jnp.sum(conv2d(x, k, padding=1, lowering=lowering)))(k)
    np.testing.assert_array_equal(np.asarray(g), np.zeros_like(k))


def test_rows_in_batch_chunks_equal_lax(monkeypatch):
    # A row stack past STACK_CHUNK_BYTES is built a few images at a time (unequal chunks here:
    # 3 + 3 + 1): values, gradients and second-order derivatives must not notice.
    from jaxcnn._cpu import rows as _lowering_rows

    x, k = _rand(0, 7, 5, 4, 3), _rand(1, 3, 2, 3, 2)
    kw = dict(stride=(2, 1), padding=((1, 2), (0, 1)), dilation=(1, 2))
    pads, per_image = ((1, 2), (0, 1)), 3 * 4 * 3 * 3 * 4  # out_h * W * KH * C_in * bytes
    monkeypatch.setattr(_lowering_rows, "STACK_CHUNK_BYTES", 3 * per_image)
    chunks = _lowering_rows.batch_chunks(x.shape, k.shape, (2, 1), (1, 2), pads, 4)
    assert chunks == [(0, 3), (3, 6), (6, 7)]
    _assert_agrees_with_lax(x, k, "rows", **kw)
    jaxpr = jax.make_jaxpr(lambda x, k: conv2d(x, k, lowering="rows", **kw))(x, k)
    names = [e.primitive.name for e in cpu_eqns(jaxpr)]
    assert names.count("conv_general_dilated") == 3  # one 1-D convolution per chunk
    batches = jnp.stack([x, -2 * x])  # vmap over a leading axis: each batch is chunked alike
    np.testing.assert_allclose(
        np.asarray(jax.vmap(lambda x: conv2d(x, k, lowering="rows", **kw))(batches)),
        np.asarray(jnp.stack([conv2d(b, k, lowering="lax", **kw) for b in batches])),
        rtol=1e-5,
        atol=1e-5,
    )


def test_rows_batch_chunks_are_near_equal_and_fit(monkeypatch):
    from jaxcnn._cpu import rows as _lowering_rows

    monkeypatch.setattr(_lowering_rows, "STACK_CHUNK_BYTES", 8 * 2**20)
    same, one = ((2, 2), (2, 2)), (1, 1)

    def chunks(x_shape, kernel_shape):
        return _lowering_rows.batch_chunks(x_shape, kernel_shape, one, one, same, 4)

    # LeNet's second layer at batch 256: a 32 MB stack (14 rows x 14 x 5 x 32 floats an image).
    assert chunks((256, 14, 14, 32), (5, 5, 32, 64)) == [(0, 64), (64, 128), (128, 192), (192, 256)]
    # Its first layer's stack (4.6 MB) fits: one piece.
    assert chunks((256, 28, 28, 1), (5, 5, 1, 32)) == [(0, 256)]
    # One image over the budget still runs, one image a chunk; an empty batch is one piece.
    monkeypatch.setattr(_lowering_rows, "STACK_CHUNK_BYTES", 1)
    assert chunks((3, 4, 4, 2), (3, 3, 2, 1)) == [(0, 1), (1, 2), (2, 3)]
    assert chunks((0, 4, 4, 2), (3, 3, 2, 1)) == [(0, 0)]
    empty = conv2d(jnp.zeros((0, 4, 4, 2)), jnp.zeros((3, 3, 2, 1)), padding=1, lowering="rows")
    assert empty.shape == (0, 4, 4, 1)


@pytest.mark.parametrize("lowering", ["patches", "rows", "lanes"])
def test_check_grads_second_order(lowering):
    x = np.asarray(_rand(0, 1, 3, 4, 2), np.float64)
    k = np.asarray(_rand(1, 2, 2, 2, 1), np.float64)
    with jax.enable_x64(True):
        check_grads(
            lambda x, k: conv2d(x, k, stride=(2, 1), padding=1, lowering=lowering),
            (jnp.asarray(x), jnp.asarray(k)),
            order=2,
            modes=["fwd", "rev"],
        )


@pytest.mark.parametrize("lowering", ["patches", "rows", "lanes"])
def test_jit_and_vmap_agree_with_eager(lowering):
    x, k = _rand(0, 3, 6, 6, 2), _rand(1, 3, 3, 2, 3)
    eager = np.asarray(conv2d(x, k, padding="SAME", lowering=lowering))
    jitted = jax.jit(lambda x, k: conv2d(x, k, padding="SAME", lowering=lowering))(x, k)
    np.testing.assert_allclose(np.asarray(jitted), eager, rtol=1e-6, atol=1e-6)
    per_example = jax.vmap(lambda xi: conv2d(xi[None], k, padding="SAME", lowering=lowering)[0])
    np.testing.assert_allclose(np.asarray(per_example(x)), eager, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("lowering", ["patches", "rows", "lanes"])
def test_vmap_over_kernels_and_forward_mode_agree_with_lax(lowering):
    """A batch of kernels (the lanes primitive's own batching rule) and jvp/hessian-vector."""
    x, k = _rand(0, 2, 7, 6, 2), _rand(1, 2, 3, 3, 2, 3)
    kw = {"stride": (2, 1), "dilation": (1, 2), "padding": ((2, 0), (1, 1))}

    def f(x, k, low):
        return conv2d(x, k, lowering=low, **kw)

    per_kernel = jax.vmap(f, in_axes=(None, 0, None))
    np.testing.assert_allclose(
        np.asarray(per_kernel(x, k, lowering)), np.asarray(per_kernel(x, k, "lax")), **TOL
    )
    both = jax.vmap(f, in_axes=(0, 0, None))
    xs = jnp.stack([x, 2 * x])
    np.testing.assert_allclose(
        np.asarray(both(xs, k, lowering)), np.asarray(both(xs, k, "lax")), **TOL
    )

    def hvp(low):  # forward-over-reverse: the jvp of a gradient
        g = jax.grad(lambda x: jnp.sum(jnp.tanh(f(x, k[0], low))))
        return jax.jvp(g, (x,), (jnp.ones_like(x),))[1]

    np.testing.assert_allclose(np.asarray(hvp(lowering)), np.asarray(hvp("lax")), **TOL)


def test_lanes_input_gradient_is_itself_a_lanes_convolution():
    """The lanes primitive transposes to a lanes convolution of the cotangent, not to pads.

    JAX's own transpose of the shifted slices would be one zero-padded copy per term, which
    XLA sums with a bounds check per element (4.7x slower on the notes' 3-to-3 layer).
    """
    x, k = _rand(0, 2, 9, 8, 3), _rand(1, 3, 3, 3, 2)
    jaxpr = jax.make_jaxpr(
        jax.grad(lambda x: jnp.sum(conv2d(x, k, stride=2, padding=1, lowering="lanes")))
    )(x)
    names = [eqn.primitive.name for eqn in cpu_eqns(jaxpr)]
    assert names.count("jaxcnn_conv_lanes") == 2  # the forward pass and the input gradient
    assert names.count("pad") <= 1  # the cotangent, dilated and padded once


def test_lanes_accumulates_bfloat16_in_float32():
    """bfloat16 in and out, float32 sums inside (as lax.conv): the kernel gradient sums ~10^4
    products, which a bfloat16 accumulator would get wrong by several percent."""
    x = _rand(0, 16, 21, 40, 3)
    k = _rand(1, 3, 3, 3, 3)

    def grads(x, k, low):
        def loss(x, k):
            return jnp.sum(conv2d(x, k, lowering=low).astype(jnp.float32) ** 2)

        return jax.grad(loss, argnums=(0, 1))(x, k)

    xb, kb = x.astype(jnp.bfloat16), k.astype(jnp.bfloat16)
    want = grads(xb.astype(jnp.float32), kb.astype(jnp.float32), "lax")
    assert conv2d(xb, kb, lowering="lanes").dtype == jnp.bfloat16
    for got, ref in zip(grads(xb, kb, "lanes"), want, strict=True):
        assert got.dtype == jnp.bfloat16
        err = np.max(np.abs(np.asarray(got, np.float32) - np.asarray(ref)))
        assert err <= 1e-2 * np.max(np.abs(np.asarray(ref)))


def test_config_forces_a_lowering():
    """The config default reaches the dispatch: a forced lanes lowering rejects groups there."""
    x, k = _rand(0, 1, 5, 5, 4), _rand(1, 3, 3, 2, 4)
    conv2d(x, k, groups=2)  # auto: fine
    with config.lowering("lanes"):
        with pytest.raises(ValueError, match=r"conv2d: groups must be 1 for lowering='lanes'"):
            conv2d(x, k, groups=2)
    with config.lowering("patches"):
        got = conv2d(x, k, groups=2)
    np.testing.assert_allclose(
        np.asarray(got), reference.conv(x, k, (1, 1), [(0, 0)] * 2, (1, 1), 2), **TOL
    )


def test_every_supported_lowering_has_one_function():
    # (test_fallback_rule pins the names themselves.)
    assert tuple(LOWERING_FUNCTIONS) == LOWERINGS


def test_forced_lowering_errors_name_the_argument():
    x = _rand(0, 1, 6, 40)
    big = _rand(1, 5, 40, 40)
    with pytest.raises(
        ValueError, match=r"conv1d: kernel must have prod\(window\) \* C_in \* C_out <= 512"
    ):
        conv1d(x, big, lowering="lanes")
    with pytest.raises(ValueError, match=r"conv1d: groups must be 1 for lowering='lanes', got 2"):
        conv1d(x, _rand(1, 3, 20, 4), groups=2, lowering="lanes")
    with pytest.raises(ValueError, match=r"conv1d: lowering='rows' needs two spatial axes"):
        conv1d(x, _rand(1, 3, 40, 4), lowering="rows")
    with pytest.raises(ValueError, match=r"conv2d: groups must be 1 for lowering='rows', got 2"):
        conv2d(_rand(0, 1, 5, 5, 4), _rand(1, 3, 3, 2, 4), groups=2, lowering="rows")
    with pytest.raises(ValueError, match=r"lowering: lowering must be one of .*got 'winograd'"):
        conv2d(_rand(0, 1, 4, 4, 1), _rand(1, 2, 2, 1, 1), lowering="winograd")


def test_fallback_rule():
    # Few channels go on the lanes; other 2-D layers on a row stack and XLA's 1-D
    # convolution (LeNet's, the images CNN's, the ResNet's); 1-D layers (text) on XLA's.
    rule = fallback_lowering
    assert rule((256, 21, 40, 3), (3, 3, 3, 3), (1, 1), 1) == "lanes"
    assert rule((256, 21, 40, 1), (3, 3, 1, 3), (1, 1), 1) == "lanes"
    assert rule((256, 28, 28, 1), (5, 5, 1, 32), (1, 1), 1) == "rows"
    assert rule((256, 14, 14, 32), (5, 5, 32, 64), (1, 1), 1) == "rows"
    assert rule((128, 7, 7, 64), (3, 3, 64, 64), (1, 1), 1) == "rows"
    assert rule((128, 28, 28, 16), (3, 3, 16, 16), (1, 1), 1) == "rows"
    assert rule((8, 30, 30, 3), (7, 7, 3, 3), (1, 1), 1) == "rows"
    assert rule((64, 1000, 100), (5, 100, 100), (1,), 1) == "lax"
    assert rule((8, 9, 9, 4), (3, 3, 2, 4), (1, 1), 2) == "lax"
    # ... unless the row stack would pass ROWS_MAX_ELEMENTS (ImageNet-sized activations):
    # 128 * 224 * 227 * 3 * 64 = 1.25e9 elements; at stride 2, 112 rows: 6.2e8.
    assert rule((128, 224, 224, 64), (3, 3, 64, 64), (1, 1), 1) == "lax"
    assert rule((128, 224, 224, 64), (3, 3, 64, 64), (2, 2), 1) == "lax"
    assert rule((128, 28, 28, 64), (3, 3, 64, 64), (2, 2), 1) == "rows"
    assert set(LOWERINGS) == {"lax", "patches", "rows", "lanes"}
    assert set(config.SUPPORTED_LOWERINGS) == {"auto", *LOWERINGS}


def test_auto_picks_lanes_on_cpu_and_matches_lax():
    # Lowered for the CPU: the CPU branch of the backend boundary, whatever machine this is.
    x, k = _rand(0, 2, 9, 12, 3), _rand(1, 3, 3, 3, 3)
    auto = jax.jit(lambda x, k: conv2d(x, k, lowering="auto")).trace(x, k)
    assert "convolution" not in auto.lower(lowering_platforms=("cpu",)).as_text()  # lanes
    # ... and on a GPU the boundary keeps XLA's convolution.
    assert "convolution" in auto.lower(lowering_platforms=("cuda",)).as_text()
    lax_cpu = jax.jit(lambda x, k: conv2d(x, k, lowering="lax")).trace(x, k)
    assert "convolution" in lax_cpu.lower(lowering_platforms=("cpu",)).as_text()
    np.testing.assert_allclose(
        np.asarray(conv2d(x, k)), np.asarray(conv2d(x, k, lowering="lax")), **TOL
    )


@pytest.mark.parametrize(
    "order", [("lanes", "patches", "lax"), ("lax", "lanes", "patches"), ("rows", "lanes", "rows")]
)
def test_a_stack_mixing_lowerings_has_the_gradients_of_an_all_lax_stack(order):
    # Each lowering pads differently (lax.pad, window padding); JAX's gradient of lax.pad is a
    # crop that XLA may fold into the next convolution (openxla/xla#48715). Jit the whole
    # stack so that the folding has its chance, and compare with the all-"lax" stack.
    x = _rand(0, 2, 11, 13, 1)
    ks = [_rand(1, 3, 3, 1, 3), _rand(2, 3, 3, 3, 3), _rand(3, 2, 2, 3, 4)]
    pads = ["SAME", ((2, 0), (1, 2)), ((1, 1), (0, 1))]

    def stack(x, ks, lowerings):
        for k, p, low in zip(ks, pads, lowerings, strict=True):
            x = jax.nn.relu(conv2d(x, k, padding=p, lowering=low))
        return jnp.sum(x * jnp.cos(x))

    got = jax.jit(jax.grad(lambda x, ks: stack(x, ks, order), argnums=(0, 1)))(x, ks)
    want = jax.jit(jax.grad(lambda x, ks: stack(x, ks, ("lax",) * 3), argnums=(0, 1)))(x, ks)
    for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
        # float32 through three layers: both are within 3e-5 of float64, relative to the max
        # (a folded crop would move whole border rows by O(1) instead).
        w = np.asarray(w)
        np.testing.assert_allclose(np.asarray(g), w, rtol=0, atol=1e-4 * np.abs(w).max())
