"""Bucketing against a naive assignment, and masked pooling that padding cannot change."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxcnn.text.sequences import bucket_sequences, masked_max_pool, masked_mean_pool, pad_to
from jaxcnn.text.vocab import PAD_ID


def _seqs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, 50, n).astype(np.int32) for n in lengths]


def test_buckets_against_naive_assignment():
    lens = [3, 4, 5, 9, 1, 16, 8, 0, 20]
    seqs = _seqs(lens)
    buckets, stats = bucket_sequences(seqs, (4, 8, 16), too_long="truncate")
    assert stats.counts == (3, 2, 3) and stats.truncated == 1 and stats.empty == 1
    seen = set()
    for b in buckets:
        for row, i in enumerate(b.index):
            n = min(lens[i], 16)
            want = min(x for x in (4, 8, 16) if x >= n)  # smallest bucket that holds it
            assert b.length == want
            np.testing.assert_array_equal(b.ids[row, :n], seqs[i][:n])
            assert np.all(b.ids[row, n:] == PAD_ID)
            np.testing.assert_array_equal(b.mask[row], np.arange(want) < n)
            seen.add(int(i))
    assert seen == {i for i, n in enumerate(lens) if n > 0}


def test_small_buckets_merge_into_longer_ones():
    lens = [3, 3, 3, 6, 10, 12, 14]
    buckets, stats = bucket_sequences(_seqs(lens), (4, 8, 16), min_count=2)
    # the lone 6-token sentence joins bucket 16; nothing is lost
    assert stats.counts == (3, 0, 4) and [b.length for b in buckets] == [4, 16]
    assert sorted(buckets[1].index.tolist()) == [3, 4, 5, 6]
    buckets, stats = bucket_sequences(_seqs([3, 3, 12]), (4, 16), min_count=2)
    assert stats.counts == (0, 3)  # the longest was too small: the shorter one moved up
    np.testing.assert_array_equal(buckets[0].mask.sum(1), [3, 3, 12])


def test_too_long_error_and_bad_arguments():
    with pytest.raises(ValueError, match="bucket_sequences: sequences must have at most 8 tokens"):
        bucket_sequences(_seqs([3, 9]), (4, 8), too_long="error")
    with pytest.raises(ValueError, match="bucket_sequences: lengths must be strictly increasing"):
        bucket_sequences(_seqs([3]), (8, 4))
    with pytest.raises(ValueError, match="bucket_sequences: lengths must be positive"):
        bucket_sequences(_seqs([3]), (0, 4))
    with pytest.raises(ValueError, match="bucket_sequences: too_long must be one of"):
        bucket_sequences(_seqs([3]), (4,), too_long="drop")
    with pytest.raises(ValueError, match="pad_to: length must be a positive int"):
        pad_to(_seqs([3]), 0)


def test_sequences_must_be_1d_integer_ids():
    ok = [np.array([2, 3]), [], np.array([], np.int32)]
    assert bucket_sequences(ok, (4,))[1].empty == 2 and pad_to(ok, 3)[1].sum() == 2
    two_d = [np.array([2]), np.array([[2, 3, 4]])]
    # a 2-D array counted as one token (its rows) in a bucket; pad_to failed to broadcast
    with pytest.raises(
        ValueError,
        match=r"bucket_sequences: sequences\[1\] must have rank 1 \(T,\), got shape \(1, 3\)",
    ):
        bucket_sequences(two_d, (4,))
    with pytest.raises(ValueError, match=r"pad_to: sequences\[1\] must have rank 1"):
        pad_to(two_d, 4)
    floats = [np.array([2.7, 3.2])]  # were truncated to ids 2, 3
    with pytest.raises(
        TypeError, match=r"bucket_sequences: sequences\[0\] must have an integer dtype, got float64"
    ):
        bucket_sequences(floats, (4,))
    with pytest.raises(TypeError, match=r"pad_to: sequences\[0\] must have an integer dtype"):
        pad_to(floats, 4)
    with pytest.raises(
        TypeError, match="bucket_sequences: lengths must be a sequence of ints, got int 16"
    ):
        bucket_sequences(ok, 16)  # was "'int' object is not iterable"


def _naive_pools(x, mask):
    mx, mean = [], []
    for xi, mi in zip(x, mask, strict=True):
        real = xi[mi]
        mx.append(real.max(0) if len(real) else np.zeros(x.shape[2]))
        mean.append(real.mean(0) if len(real) else np.zeros(x.shape[2]))
    return np.stack(mx), np.stack(mean)


def test_pools_match_naive_and_ignore_padding_values():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(4, 6, 3)).astype(np.float32)
    mask = np.arange(6)[None, :] < np.array([[6], [2], [1], [0]])
    want_max, want_mean = _naive_pools(x, mask)
    np.testing.assert_allclose(masked_max_pool(x, mask), want_max, rtol=1e-6)
    np.testing.assert_allclose(masked_mean_pool(x, mask), want_mean, rtol=1e-6)
    # huge values on padded positions change nothing
    x2 = np.where(mask[:, :, None], x, 1e6).astype(np.float32)
    np.testing.assert_array_equal(masked_max_pool(x2, mask), masked_max_pool(x, mask))
    np.testing.assert_array_equal(masked_mean_pool(x2, mask), masked_mean_pool(x, mask))


@pytest.mark.parametrize("pool", [masked_max_pool, masked_mean_pool])
def test_padded_positions_get_zero_gradient(pool):
    x = jnp.asarray(np.random.default_rng(2).normal(size=(2, 5, 3)), jnp.float32)
    mask = jnp.asarray(np.arange(5)[None, :] < np.array([[3], [5]]))
    g = jax.grad(lambda x: jnp.sum(pool(x, mask) ** 2))(x)
    assert np.all(np.asarray(g)[0, 3:] == 0.0)
    assert np.any(np.asarray(g)[0, :3] != 0.0) and np.any(np.asarray(g)[1, 3:] != 0.0)


def test_pool_errors():
    with pytest.raises(ValueError, match=r"masked_max_pool: x must have rank 3 \(N, L, C\)"):
        masked_max_pool(jnp.zeros((2, 3)), jnp.ones((2, 3), bool))
    with pytest.raises(ValueError, match=r"masked_mean_pool: mask must have shape \(2, 3\)"):
        masked_mean_pool(jnp.zeros((2, 3, 1)), jnp.ones((2, 4), bool))


@pytest.mark.parametrize("pool", [masked_max_pool, masked_mean_pool])
@pytest.mark.parametrize("dtype", [np.float32, np.int32])
def test_pool_mask_must_be_bool(pool, dtype):
    x = jnp.ones((2, 3, 1))
    mask = np.asarray([[1, 0.5, 0], [1, 1, 0]], dtype)
    with pytest.raises(TypeError, match=rf"{pool.__name__}: mask must be a bool array .* got "):
        pool(x, mask)
    with pytest.raises(TypeError, match=rf"{pool.__name__}: mask must be a bool array"):
        jax.jit(pool)(x, jnp.asarray(mask))
