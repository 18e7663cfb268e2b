import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxcnn.audio import windows


def make_utterances(lengths, seed=0, dim=40):
    rng = np.random.default_rng(seed)
    out = []
    for t in lengths:
        labels = rng.integers(0, 138, size=t).astype(np.int32)
        labels[0] = -1  # an unlabelled frame is left out of the index
        out.append((rng.normal(size=(t, dim)).astype(np.float32), labels))
    return out


def naive_reference(utterances, context=10):
    """Windows cut from each utterance separately, zero-padded by hand, frame by frame."""
    xs, ys = [], []
    for feats, labels in utterances:
        t, d = feats.shape
        for i in range(t):
            if labels[i] < 0:
                continue
            window = np.zeros((2 * context + 1, d), np.float32)
            for k in range(-context, context + 1):
                if 0 <= i + k < t:
                    window[k + context] = feats[i + k]
            xs.append(window)
            ys.append(labels[i])
    return np.stack(xs), np.array(ys)


def test_device_gather_equals_naive_loop_including_edges():
    utterances = make_utterances([3, 25, 1 + 1, 40])  # shorter and longer than the context
    frames = windows.build_bank(utterances)
    assert frames.dropped == 4 and frames.size == 3 + 25 + 2 + 40 - 4
    arrays = {
        "bank": jnp.asarray(frames.bank),
        "centres": jnp.asarray(frames.centres),
        "labels": jnp.asarray(frames.labels),
        "offsets": jnp.arange(-10, 11, dtype=jnp.int32),
    }
    idx = jnp.arange(frames.size, dtype=jnp.int32)
    batch = jax.jit(windows.take)(arrays, idx)
    ref_x, ref_y = naive_reference(utterances)
    assert batch["x"].shape == (frames.size, 21, 40)
    np.testing.assert_array_equal(np.asarray(batch["x"]), ref_x)
    np.testing.assert_array_equal(np.asarray(batch["y"]), ref_y)
    np.testing.assert_array_equal(windows.naive_windows(frames, range(frames.size)), ref_x)


def test_bank_from_npz_files(tmp_path):
    utterances = make_utterances([12, 30], seed=1)
    paths = []
    for i, (f, l) in enumerate(utterances):
        paths.append(str(tmp_path / f"{i}.npz"))
        np.savez(paths[-1], features=f, labels=l, dim=np.int64(40))
    a, b = windows.build_bank(paths), windows.build_bank(utterances)
    np.testing.assert_array_equal(a.bank, b.bank)
    np.testing.assert_array_equal(a.centres, b.centres)
    # Memory: the bank is the features plus 20 padding frames per utterance, nothing more.
    assert a.bank.nbytes == (12 + 30 + 2 * 20) * 40 * 4


def test_bad_inputs():
    good = make_utterances([5])[0]
    nan = good[0].copy()
    nan[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"build_bank \(item 0\): features must be finite"):
        windows.build_bank([(nan, good[1])])
    with pytest.raises(ValueError, match=r"labels of item 0 must be in \[0, 138\) or -1"):
        windows.build_bank([(good[0], np.array([0, 1, 2, 3, 138]))])
    with pytest.raises(ValueError, match=r"labels of item 0 must have shape \(5,\)"):
        windows.build_bank([(good[0], np.zeros(4, np.int32))])
    with pytest.raises(TypeError, match="labels of item 0 must be integers"):
        windows.build_bank([(good[0], np.zeros(5))])
    with pytest.raises(ValueError, match="item 1 must have 40 columns"):
        windows.build_bank([good, (np.zeros((5, 13), np.float32), good[1])])
    with pytest.raises(ValueError, match="items must be non-empty"):
        windows.build_bank([])


def test_bad_context_num_classes_and_npz_keys(tmp_path):
    utterances = make_utterances([5])
    with pytest.raises(ValueError, match="build_bank: num_classes must be a positive int, got 'x'"):
        windows.build_bank(utterances, num_classes="x")  # was a NumPy UFuncTypeError
    with pytest.raises(
        ValueError, match="build_bank: context must be a non-negative int, got True"
    ):
        windows.build_bank(utterances, context=True)  # was a 1-frame context
    assert windows.build_bank(utterances, context=np.int64(2)).context == 2
    path = tmp_path / "u.npz"
    np.savez(path, features=utterances[0][0], labels=utterances[0][1])  # no "dim"
    with pytest.raises(
        ValueError,
        match=r"u.npz must hold arrays 'features', 'labels' and 'dim'.*got \['features', 'l",
    ):
        windows.build_bank([path])  # was a KeyError
