"""Augmentation: shapes and labels kept, deterministic per key, crops are shifted windows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.vision import augment_batch, random_crop, random_flip


def _batch():
    x = np.arange(6 * 8 * 8 * 2, dtype=np.float32).reshape(6, 8, 8, 2) + 1.0  # no zero pixels
    return {"x": jnp.asarray(x), "y": jnp.arange(6, dtype=jnp.int32)}


def test_keeps_labels_shapes_and_is_deterministic():
    batch = _batch()
    key = jax.random.key(3)
    a = augment_batch(key, batch)
    b = augment_batch(key, batch)
    assert a["x"].shape == batch["x"].shape and a["x"].dtype == batch["x"].dtype
    np.testing.assert_array_equal(a["y"], batch["y"])
    np.testing.assert_array_equal(a["x"], b["x"])
    c = augment_batch(jax.random.key(4), batch)
    assert not np.array_equal(a["x"], c["x"])


def test_crop_is_a_window_of_the_zero_padded_image():
    batch = _batch()
    out = np.asarray(random_crop(jax.random.key(0), batch["x"], 2))
    padded = np.pad(np.asarray(batch["x"]), ((0, 0), (2, 2), (2, 2), (0, 0)))
    for i in range(6):  # naive search over every offset: exactly one window matches
        hits = [
            (r, c)
            for r in range(5)
            for c in range(5)
            if np.array_equal(padded[i, r : r + 8, c : c + 8], out[i])
        ]
        assert len(hits) == 1


def test_flip_mirrors_or_keeps_each_image():
    x = _batch()["x"]
    out = np.asarray(random_flip(jax.random.key(1), x))
    flipped = [np.array_equal(out[i], np.asarray(x)[i, :, ::-1]) for i in range(6)]
    kept = [np.array_equal(out[i], np.asarray(x)[i]) for i in range(6)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True))
    assert any(flipped) and any(kept)  # key 1 flips some, not all (fixed by the key)


def test_bad_input():
    with pytest.raises(ValueError, match=r"random_crop: images must have rank 4 \(N, H, W, C\)"):
        random_crop(jax.random.key(0), jnp.zeros((8, 8, 1)), 2)
    with pytest.raises(ValueError, match="random_crop: padding must be non-negative, got"):
        random_crop(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), -1)
    with pytest.raises(ValueError, match="augment_batch: batch must be a dict with 'x'"):
        augment_batch(jax.random.key(0), jnp.zeros((1, 8, 8, 1)))
