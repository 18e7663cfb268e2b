"""Augmentation: shapes and labels kept, deterministic per key, crops are shifted windows."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.vision import augment_batch, random_crop, random_erasing, random_flip


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


def test_erasing_zeroes_one_rectangle_per_erased_image_within_the_scale():
    x = jnp.ones((64, 12, 10, 3))
    out = np.asarray(random_erasing(jax.random.key(5), x, 1.0, scale=(0.1, 0.3)))
    for image in out:
        zero = image == 0
        assert (zero.all(axis=-1) == zero.any(axis=-1)).all()  # every channel of a pixel
        rows, cols = np.nonzero(zero[..., 0])
        assert rows.size > 0
        box = zero[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1, 0]
        assert box.all() and box.sum() == rows.size  # one filled rectangle, nothing else
        # rounding each side to a whole pixel moves the area by at most about one row + column
        assert 0.1 * 120 - 12 <= rows.size <= 0.3 * 120 + 12


def test_erasing_probability_zero_is_the_identity_and_one_half_erases_about_half():
    x = jnp.ones((400, 8, 8, 1))
    np.testing.assert_array_equal(random_erasing(jax.random.key(0), x, 0.0), x)
    erased = (np.asarray(random_erasing(jax.random.key(0), x, 0.5)) == 0).any(axis=(1, 2, 3))
    assert 0.4 < erased.mean() < 0.6  # 400 draws: 5 standard deviations either side
    again = np.asarray(random_erasing(jax.random.key(0), x, 0.5))
    np.testing.assert_array_equal(
        again == 0, np.asarray(random_erasing(jax.random.key(0), x, 0.5)) == 0
    )


def test_erasing_bad_input():
    with pytest.raises(ValueError, match=r"random_erasing: images must have rank 4"):
        random_erasing(jax.random.key(0), jnp.zeros((8, 8, 1)))
    with pytest.raises(ValueError, match=r"random_erasing: scale must be \(low, high\)"):
        random_erasing(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), scale=(0.5, 0.1))
    with pytest.raises(ValueError, match=r"random_erasing: ratio must be \(low, high\)"):
        random_erasing(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), ratio=(0.0, 2.0))
    for bad in (1.5, -0.1, np.float32(2.0), float("nan")):
        with pytest.raises(ValueError, match=r"random_erasing: probability must be in \[0, 1\]"):
            random_erasing(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), bad)
