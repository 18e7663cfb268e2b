"""canonicalize_convolutions: the same numbers, and only canonical convolutions (in loops too)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxcnn.train.canonical import canonicalize_convolutions, is_canonical_stablehlo
from tests.forced import conv1d, conv2d

# (x shape, kernel shape, dimension numbers, keyword arguments of conv_general_dilated)
CASES = {
    "nhwc": ((3, 9, 10, 6), (3, 2, 6, 4), ("NHWC", "HWIO", "NHWC"), {}),
    "nhwc strided dilated grouped": (
        (3, 9, 10, 6),
        (3, 2, 3, 4),
        ("NHWC", "HWIO", "NHWC"),
        dict(window_strides=(2, 1), rhs_dilation=(1, 2), feature_group_count=2),
    ),
    "nchw": ((2, 5, 7, 8), (4, 5, 3, 3), ("NCHW", "OIHW", "NCHW"), {}),
    "nwc": ((4, 11, 3), (5, 3, 2), ("NWC", "WIO", "NWC"), dict(padding=[(2, 1)])),
    "ncw lhs dilated": (
        (2, 3, 6),
        (4, 3, 3),
        ("NCW", "OIW", "NCW"),
        dict(lhs_dilation=(2,), padding=[(1, 1)]),
    ),
}


def _conv_loss(dims, kwargs):
    kwargs = {"window_strides": None, "padding": "VALID", **kwargs}
    n = len(dims[0]) - 2
    if kwargs["window_strides"] is None:
        kwargs["window_strides"] = (1,) * n

    def loss(x, k):
        y = lax.conv_general_dilated(x, k, dimension_numbers=dims, **kwargs)
        return jnp.sum(jnp.sin(y) * y)

    return loss


@pytest.mark.parametrize("name", sorted(CASES))
def test_values_and_gradients_are_unchanged(name):
    x_shape, k_shape, dims, kwargs = CASES[name]
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal(x_shape), jnp.float32)
    k = jnp.asarray(rng.standard_normal(k_shape), jnp.float32)
    grad = jax.value_and_grad(_conv_loss(dims, kwargs), argnums=(0, 1))
    want = jax.jit(grad)(x, k)
    got = jax.jit(canonicalize_convolutions(grad))(x, k)
    # Transposes move data and nothing else; XLA may still sum in another order.
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        scale = float(np.abs(np.asarray(a)).max())
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_convolution_is_canonical_after(name):
    x_shape, k_shape, dims, kwargs = CASES[name]
    x, k = jnp.ones(x_shape), jnp.ones(k_shape)
    grad = jax.grad(_conv_loss(dims, kwargs), argnums=(0, 1))
    before = jax.jit(grad).lower(x, k).as_text()
    after = jax.jit(canonicalize_convolutions(grad)).lower(x, k).as_text()
    # JAX's kernel gradient contracts over the batch: never canonical before.
    assert "stablehlo.convolution" in before and not is_canonical_stablehlo(before)
    assert after.count("stablehlo.convolution") == before.count("stablehlo.convolution")
    assert is_canonical_stablehlo(after)


def test_other_platforms_keep_their_convolutions():
    """The rewrite is the CPU's: lowered for CUDA, the convolutions are those of the original."""
    x_shape, k_shape, dims, kwargs = CASES[sorted(CASES)[0]]
    x, k = jnp.ones(x_shape), jnp.ones(k_shape)
    grad = jax.grad(_conv_loss(dims, kwargs), argnums=(0, 1))

    def convs(f, platform):
        text = jax.jit(f).trace(x, k).lower(lowering_platforms=(platform,)).as_text()
        return re.findall(r"stablehlo.convolution.*dim_numbers = (\S+)", text)

    assert convs(grad, "cuda")
    assert convs(canonicalize_convolutions(grad), "cuda") == convs(grad, "cuda")
    assert convs(canonicalize_convolutions(grad), "cpu") != convs(grad, "cpu")


def test_is_canonical_stablehlo_reads_dim_numbers():
    assert is_canonical_stablehlo("no convolution here")
    line = "stablehlo.convolution(%0, %1) dim_numbers = {}x{}->{}, window = {{}}"
    assert is_canonical_stablehlo(line.format("[b, 0, 1, f]", "[0, 1, i, o]", "[b, 0, 1, f]"))
    assert is_canonical_stablehlo(line.format("[b, 0, f]", "[0, i, o]", "[b, 0, f]"))
    assert not is_canonical_stablehlo(line.format("[f, 0, b]", "[i, 0, o]", "[0, b, f]"))
    assert not is_canonical_stablehlo(line.format("[b, f, 0, 1]", "[o, i, 0, 1]", "[b, f, 0, 1]"))


def _train_step(params, x, y):
    """A small CNN's SGD step: jaxcnn convolutions (jit-wrapped, custom_jvp ReLU) and a dense."""

    def loss(p):
        h = jax.nn.relu(conv2d(x, p["k1"], p["b1"], padding="SAME", lowering="rows"))
        h = conv1d(h.reshape(h.shape[0], -1, h.shape[-1]), p["k2"], lowering="lax")
        h = jax.nn.relu(h).mean(axis=1)
        return jnp.mean((h @ p["w"] - y) ** 2)

    value, grads = jax.jit(jax.value_and_grad(loss))(params)
    return jax.tree.map(lambda a, g: a - 0.1 * g, params, grads), value


def _params():
    rng = np.random.default_rng(1)
    shapes = {"k1": (3, 3, 2, 4), "b1": (4,), "k2": (3, 4, 5), "w": (5, 2)}
    return {n: jnp.asarray(rng.standard_normal(s) * 0.3, jnp.float32) for n, s in shapes.items()}


def test_a_scanned_training_step_keeps_its_results_and_loses_slow_convolutions():
    rng = np.random.default_rng(2)
    xs = jnp.asarray(rng.standard_normal((3, 4, 6, 5, 2)), jnp.float32)
    ys = jnp.asarray(rng.standard_normal((3, 4, 2)), jnp.float32)

    def run(step):
        def body(p, batch):
            return step(p, *batch)

        return jax.jit(lambda p: lax.scan(body, p, (xs, ys)))

    want = run(_train_step)(_params())
    got = run(canonicalize_convolutions(_train_step))(_params())
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-6)
    # In XLA's compiled program (the while body included) only the canonical layout is left:
    # XLA CPU's own canonicalisation does not reach loop bodies.
    canonical = {"b0f_0io->b0f", "b01f_01io->b01f"}
    after = _dim_labels(run(canonicalize_convolutions(_train_step)), _params())
    assert after and after <= canonical, after
    before = _dim_labels(run(_train_step), _params())
    assert not before <= canonical, before


def _dim_labels(jitted, *args) -> set[str]:
    return set(re.findall(r"dim_labels=(\S+?),", jitted.lower(*args).compile().as_text()))


def test_pytrees_and_keyword_arguments_pass_through():
    def f(tree, *, scale):
        y = lax.conv_general_dilated(
            tree["x"], tree["k"], (1,), "SAME", dimension_numbers=("NCW", "OIW", "NCW")
        )
        return {"y": y * scale, "n": tree["n"] + 1}

    tree = {"x": jnp.ones((2, 3, 7)), "k": jnp.ones((4, 3, 3)), "n": jnp.int32(4)}
    want, got = f(tree, scale=2.0), canonicalize_convolutions(f)(tree, scale=2.0)
    assert jax.tree.structure(got) == jax.tree.structure(want)
    np.testing.assert_array_equal(np.asarray(got["y"]), np.asarray(want["y"]))
    assert int(got["n"]) == 5


def test_convolutions_in_a_remat_region_are_rewritten_and_keep_their_numbers():
    """``jax.checkpoint`` keeps its body as an open jaxpr: rewritten too, still a remat."""
    rng = np.random.default_rng(3)
    x = jnp.asarray(rng.standard_normal((2, 7, 6, 3)), jnp.float32)
    k = jnp.asarray(rng.standard_normal((3, 3, 3, 4)), jnp.float32)
    conv = jax.checkpoint(_conv_loss(("NHWC", "HWIO", "NHWC"), {}))
    grad = jax.grad(conv, argnums=(0, 1))

    def run(step):
        return jax.jit(lambda x, k: lax.scan(lambda c, _: (c, step(x, k)), 0, None, length=2)[1])

    want = run(grad)(x, k)
    got = run(canonicalize_convolutions(grad))(x, k)
    for a, b in zip(jax.tree.leaves(want), jax.tree.leaves(got), strict=True):
        scale = float(np.abs(np.asarray(a)).max())
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-5, atol=1e-5 * scale)
    assert not is_canonical_stablehlo(run(grad).lower(x, k).as_text())
    rewritten = jax.make_jaxpr(canonicalize_convolutions(grad))(x, k)
    assert "remat" in str(rewritten) or "checkpoint" in str(rewritten)  # still rematerialised
    assert is_canonical_stablehlo(run(canonicalize_convolutions(grad)).lower(x, k).as_text())
