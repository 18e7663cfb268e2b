"""Per-channel normalisation against NumPy's mean/std."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.vision import channel_stats, normalize


def test_channels_become_zero_mean_unit_std():
    rng = np.random.default_rng(0)
    x = (rng.random((5, 4, 3, 3)) * np.array([1.0, 10.0, 0.1])).astype(np.float32)
    mean, std = channel_stats(x)
    np.testing.assert_allclose(mean, [x[..., c].mean() for c in range(3)], rtol=1e-5)
    out = np.asarray(normalize(jnp.asarray(x), mean, std))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, rtol=1e-4)


def test_constant_channel_and_errors():
    mean, std = channel_stats(np.ones((2, 3, 3, 1), np.float32))
    assert std[0] == 1.0
    with pytest.raises(ValueError, match=r"normalize: mean must have shape \(3,\), got \(1,\)"):
        normalize(jnp.zeros((1, 2, 2, 3)), [0.0], [1.0, 1.0, 1.0])
    with pytest.raises(TypeError, match="channel_stats: images must have a floating dtype"):
        channel_stats(np.zeros((1, 2, 2, 3), np.uint8))


def test_std_must_be_positive():
    # std 0 (e.g. hand-made stats) divided the channel into inf/NaN without a word.
    x = jnp.ones((1, 2, 2, 2))
    with pytest.raises(
        ValueError, match=r"normalize: std must be positive and finite, got \[1.0, 0.0\]"
    ):
        normalize(x, np.zeros(2), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match="std must be positive and finite"):
        normalize(x, np.zeros(2), [1.0, float("nan")])
    jitted = jax.jit(normalize)  # traced std: not checked, still runs
    np.testing.assert_allclose(jitted(x, jnp.zeros(2), jnp.full(2, 2.0)), 0.5)
