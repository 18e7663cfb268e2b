"""The image models: parameter counts by hand and output shapes, via jax.eval_shape (no compile)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.vision.models import MODELS, Augment, make_model


def _count(variables):
    return sum(int(np.prod(p.shape)) for p in jax.tree.leaves(variables["params"]))


# By hand for 28x28x1 inputs and 10 classes (conv: k*k*c_in*c_out + c_out; dense: in*out + out).
WANT = {
    "mlp": 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10,
    "cnn": 9 * 32 + 32 + 9 * 32 * 64 + 64 + 7 * 7 * 64 * 10 + 10,
    "allconv": 9 * 32
    + 32
    + 9 * 32 * 32
    + 32
    + 9 * 32 * 64
    + 64
    + 9 * 64 * 64
    + 64
    + 7 * 7 * 64 * 10
    + 10,
    "gap": 9 * 32 + 32 + 9 * 32 * 64 + 64 + 9 * 64 * 128 + 128 + 128 * 10 + 10,
}


@pytest.mark.parametrize("name", MODELS)
def test_shapes_and_counts(name):
    model = make_model(name, 10)
    x = jnp.zeros((3, 28, 28, 1))
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), x))
    logits = jax.eval_shape(lambda v: model.apply(v, x, train=False), variables)
    assert logits.shape == (3, 10)
    if name in WANT:
        assert _count(variables) == WANT[name]
    else:  # resnet: under 100k parameters, with batch-norm statistics
        assert _count(variables) < 100_000 and "batch_stats" in variables
    if name in ("cnn", "allconv", "gap"):
        assert _count(variables) < 100_000  # the "CNN under 100k parameters"


def test_augment_only_in_training():
    x = jnp.arange(2 * 6 * 6 * 1, dtype=jnp.float32).reshape(2, 6, 6, 1) + 1.0
    layer = Augment(padding=1)
    assert layer.apply({}, x, train=False) is x
    a = layer.apply({}, x, train=True, rngs={"dropout": jax.random.key(0)})
    b = layer.apply({}, x, train=True, rngs={"dropout": jax.random.key(0)})
    assert a.shape == x.shape
    np.testing.assert_array_equal(a, b)  # a function of the key
    # Independent reference: every output example is one of the 3 x 3 shifted crops of the
    # zero-padded input, flipped or not; and over a few keys the inputs do change (an
    # identity Augment passed the old test).
    padded = np.pad(np.asarray(x), ((0, 0), (1, 1), (1, 1), (0, 0)))
    changed = False
    for seed in range(8):
        out = np.asarray(layer.apply({}, x, train=True, rngs={"dropout": jax.random.key(seed)}))
        for i in range(len(x)):
            crops = [padded[i, dy : dy + 6, dx : dx + 6] for dy in range(3) for dx in range(3)]
            crops += [c[:, ::-1] for c in crops]
            assert any(np.array_equal(out[i], c) for c in crops), (seed, i)
            changed |= not np.array_equal(out[i], np.asarray(x[i]))
    assert changed


def test_augment_erasing_keeps_the_crops_and_zeroes_a_rectangle_on_top():
    x = jnp.arange(4 * 8 * 8 * 1, dtype=jnp.float32).reshape(4, 8, 8, 1) + 1.0  # no zeros
    rngs = {"dropout": jax.random.key(1)}
    plain = np.asarray(Augment(padding=0).apply({}, x, train=True, rngs=rngs))
    erased = np.asarray(Augment(padding=0, erase=1.0).apply({}, x, train=True, rngs=rngs))
    assert Augment(erase=1.0).apply({}, x, train=False) is x
    for p, e in zip(plain, erased, strict=True):
        hole = e == 0
        assert hole.any()  # erase=1.0: every image loses a rectangle
        np.testing.assert_array_equal(e[~hole], p[~hole])  # the same flip underneath


def test_erase_needs_augment_and_a_probability():
    assert make_model("resnet", augment=True, erase=0.5).layers[0].erase == 0.5
    with pytest.raises(ValueError, match="make_model: erase=0.5 needs augment=True"):
        make_model("resnet", erase=0.5)
    with pytest.raises(
        ValueError, match=r"make_model: erase must be a probability in \[0, 1\], got 1.5"
    ):
        make_model("resnet", augment=True, erase=1.5)


def test_bad_names():
    with pytest.raises(ValueError, match="make_model: name must be one of"):
        make_model("vgg")
    with pytest.raises(ValueError, match="make_model: num_classes must be a positive int"):
        make_model("cnn", 0)


def test_num_classes_accepts_numpy_ints_and_rejects_bools():
    # np.int64 (labels.max() + 1) was refused as "not a positive int"; True was a 1-class model.
    model = make_model("mlp", np.int64(3))
    variables = model.init(jax.random.key(0), jnp.zeros((2, 8, 8, 1)))
    assert model.apply(variables, jnp.zeros((2, 8, 8, 1))).shape == (2, 3)
    with pytest.raises(TypeError, match="make_model: num_classes must be a positive int, got bool"):
        make_model("cnn", True)
    with pytest.raises(
        TypeError, match="make_model: num_classes must be a positive int, got float"
    ):
        make_model("cnn", 10.0)
