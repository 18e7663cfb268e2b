"""``conv1d`` / ``conv2d(..., activation=...)``: activation(conv + bias) under every lowering."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.functional import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from jaxcnn.functional.activation import ELEMENTWISE, resolve_activation
from tests import reference

TOL = {"rtol": 2e-5, "atol": 2e-5}
LOWERINGS_2D = ["lax", "patches", "rows", "lanes"]


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _softmax_over_channels(y):
    """Not elementwise: applied in any layout but channels-last, it would give other numbers."""
    return jax.nn.softmax(y, axis=-1)


ACTIVATIONS = {  # the argument -> the function the reference applies
    "relu": jax.nn.relu,
    "gelu": jax.nn.gelu,
    "tanh": np.tanh,
    "jax.nn.silu": jax.nn.silu,
    "softmax over channels": _softmax_over_channels,
}
ARGUMENTS = {
    "relu": "relu",
    "gelu": "gelu",
    "tanh": "tanh",
    "jax.nn.silu": jax.nn.silu,
    "softmax over channels": _softmax_over_channels,
}


@pytest.mark.parametrize("lowering", LOWERINGS_2D)
@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_conv2d_activation_is_applied_to_conv_plus_bias(lowering, name):
    x, k, b = _rand(0, 2, 7, 9, 3), _rand(1, 3, 3, 3, 2), _rand(2, 2)
    got = conv2d(x, k, b, padding=((1, 0), (2, 1)), lowering=lowering, activation=ARGUMENTS[name])
    conv = reference.conv(x, k, (1, 1), [(1, 0), (2, 1)], (1, 1), bias=b)
    want = np.asarray(ACTIVATIONS[name](conv))
    np.testing.assert_allclose(np.asarray(got), want, **TOL)


@pytest.mark.parametrize("lowering", ["lax", "patches", "lanes"])
def test_conv1d_activation(lowering):
    x, k, b = _rand(3, 2, 11, 2), _rand(4, 3, 2, 3), _rand(5, 3)
    got = conv1d(x, k, b, stride=2, padding="SAME", lowering=lowering, activation="relu")
    pads = reference.explicit_pads("SAME", (11,), (3,), (2,), (1,))
    want = np.maximum(reference.conv(x, k, (2,), pads, (1,), bias=b), 0)
    np.testing.assert_allclose(np.asarray(got), want, **TOL)


@pytest.mark.parametrize("lowering", LOWERINGS_2D)
def test_activation_gradients_match_lax_and_compose_with_jit_and_vmap(lowering):
    x, k, b = _rand(6, 2, 6, 8, 2), _rand(7, 3, 3, 2, 3), _rand(8, 3)

    def loss(low):
        return lambda x, k, b: jnp.sum(conv2d(x, k, b, lowering=low, activation="gelu") ** 2)

    want = jax.grad(loss("lax"), argnums=(0, 1, 2))(x, k, b)
    got = jax.jit(jax.grad(loss(lowering), argnums=(0, 1, 2)))(x, k, b)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=1e-4, atol=1e-4)
    one = lambda xi: conv2d(xi, k, b, lowering=lowering, activation="relu")  # noqa: E731
    batched = jax.vmap(one)(x[:, None])
    np.testing.assert_allclose(
        np.asarray(batched[:, 0]),
        np.asarray(conv2d(x, k, b, lowering="lax", activation="relu")),
        **TOL,
    )


def _max_operand_shapes(fn, *args):
    """Shapes of the operands of every ``max`` in ``fn``'s jaxpr (ReLU is a max with 0)."""
    shapes = []

    def walk(jaxpr):
        for eqn in jaxpr.eqns:
            if eqn.primitive.name == "max":
                shapes.extend(v.aval.shape for v in eqn.invars if v.aval.shape)
            for param in eqn.params.values():  # jax.nn.relu is a custom_jvp: look inside
                inner = getattr(param, "jaxpr", None)
                if inner is not None:
                    walk(getattr(inner, "jaxpr", inner))

    walk(jax.make_jaxpr(fn)(*args).jaxpr)
    return shapes


def test_lanes_applies_an_elementwise_activation_channels_first():
    """Where the speed comes from: the ReLU runs on the lanes layout ``(C_out, N, H, W)``, so
    the move back to channels-last is the layer's last op and cancels against the next lanes
    layer's move to the front. A function not known to be elementwise runs channels-last."""
    x, k = _rand(9, 2, 6, 8, 3), _rand(10, 3, 3, 3, 3)
    lanes = _max_operand_shapes(lambda x: conv2d(x, k, lowering="lanes", activation="relu"), x)
    assert lanes == [(3, 2, 4, 6)]
    lax_ = _max_operand_shapes(lambda x: conv2d(x, k, lowering="lax", activation="relu"), x)
    assert lax_ == [(2, 4, 6, 3)]
    custom = _max_operand_shapes(
        lambda x: conv2d(x, k, lowering="lanes", activation=lambda y: jnp.maximum(y, 0)), x
    )
    assert custom == [(2, 4, 6, 3)]


def test_resolve_activation_knows_the_flax_and_jax_functions_as_elementwise():
    import flax.linen as nn

    for name, f in ELEMENTWISE.items():
        assert resolve_activation(name, "f") == (f, True)
        assert resolve_activation(f, "f") == (f, True)
    assert resolve_activation(nn.relu, "f") == (jax.nn.relu, True)
    assert resolve_activation(None, "f") == (None, True)
    assert resolve_activation(_softmax_over_channels, "f") == (_softmax_over_channels, False)


def test_activation_errors_name_the_argument():
    x, k = _rand(0, 1, 5, 5, 1), _rand(1, 3, 3, 1, 2)
    with pytest.raises(ValueError, match=r"conv2d: activation must be None, a callable or one of"):
        conv2d(x, k, activation="rleu")
    with pytest.raises(TypeError, match=r"conv1d: activation must be .* got int 3"):
        conv1d(x[:, 0], k[0], activation=3)


@pytest.mark.parametrize("lowering", ["lax", "auto", "lanes"])
def test_transposed_convolutions_take_an_activation_too(lowering):
    y, k, b = _rand(11, 2, 4, 5, 3), _rand(12, 3, 3, 2, 3), _rand(13, 2)
    kwargs = dict(stride=2, padding=1, output_padding=1, lowering=lowering)
    plain = conv_transpose2d(y, k, b, **kwargs)
    got = conv_transpose2d(y, k, b, activation="tanh", **kwargs)
    np.testing.assert_allclose(np.asarray(got), np.tanh(np.asarray(plain)), **TOL)
    got1 = conv_transpose1d(y[:, 0], k[0], b, stride=2, lowering=lowering, activation=jax.nn.relu)
    want1 = np.maximum(np.asarray(conv_transpose1d(y[:, 0], k[0], b, stride=2)), 0)
    np.testing.assert_allclose(np.asarray(got1), want1, **TOL)
    with pytest.raises(ValueError, match=r"conv_transpose2d: activation must be .*got 'rellu'"):
        conv_transpose2d(y, k, activation="rellu")
