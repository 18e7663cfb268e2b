"""A convolution whose forward pass and two gradients run different lowerings (`_cpu.mixed`)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxcnn._cpu.engine import LOWERING_FUNCTIONS
from jaxcnn._cpu.mixed import mixed_conv

PADS = ((1, 1), (2, 0))


def _lowering(name, calls=None):
    f = functools.partial(
        LOWERING_FUNCTIONS[name], strides=(1, 2), dilations=(2, 1), pads=PADS, groups=1
    )
    if calls is None:
        return f
    return lambda x, k: calls.append(name) or f(x, k)


def _reference(x, k):
    return lax.conv_general_dilated(
        x, k, (1, 2), PADS, rhs_dilation=(2, 1), dimension_numbers=("NHWC", "HWIO", "NHWC")
    )


def _data():
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.standard_normal((3, 9, 8, 2)), jnp.float32)
    k = jnp.asarray(rng.standard_normal((3, 3, 2, 4)), jnp.float32)
    return x, k


@pytest.mark.parametrize("plan", [("lax", "patches", "rows"), ("rows", "lax", "patches")])
def test_values_gradients_jvp_and_hvp_match_lax(plan):
    x, k = _data()
    conv = mixed_conv(*(_lowering(name) for name in plan))

    def loss(f):
        return lambda x, k: jnp.sum(jnp.sin(f(x, k)))

    np.testing.assert_allclose(conv(x, k), _reference(x, k), rtol=1e-5, atol=1e-5)
    got = jax.jit(jax.grad(loss(conv), (0, 1)))(x, k)
    want = jax.grad(loss(_reference), (0, 1))(x, k)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-4)
    tangents = (jnp.ones_like(x), jnp.full_like(k, 0.5))
    np.testing.assert_allclose(
        jax.jvp(conv, (x, k), tangents)[1], jax.jvp(_reference, (x, k), tangents)[1],
        rtol=1e-4, atol=1e-4,
    )  # fmt: skip

    def hvp(f):  # forward over reverse, in the kernel
        return jax.jvp(lambda k: jax.grad(loss(f), 1)(x, k), (k,), (jnp.ones_like(k),))[1]

    np.testing.assert_allclose(hvp(conv), hvp(_reference), rtol=1e-3, atol=1e-3)


def test_each_gradient_traces_only_its_own_lowering():
    """A gradient in the kernel alone never runs the input's lowering, and the other way round."""
    x, k = _data()
    calls: list[str] = []
    conv = mixed_conv(*(_lowering(n, calls) for n in ("lax", "patches", "rows")))
    jax.grad(lambda k: conv(x, k).sum())(k)
    assert sorted(calls) == ["lax", "rows"]
    calls.clear()
    jax.grad(lambda x: conv(x, k).sum())(x)
    assert sorted(calls) == ["lax", "patches"]
    calls.clear()
    jax.vmap(conv, in_axes=(0, None))(x[:, None], k)  # batching through the custom rule
    assert calls == ["lax"]
