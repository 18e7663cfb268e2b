"""Models: padding invariance, masks that hide padding, causality, frozen embeddings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxcnn.text.models import BagOfEmbeddings, CausalConvLM, KimCNN, WindowMLPLM
from jaxcnn.text.sequences import pad_to

V = 60
CLASSIFIERS = [
    KimCNN(V, 7, embed_dim=8, widths=(2, 3, 5), features=6),
    KimCNN(V, 7, embed_dim=8, widths=(3,), features=6, embeddings="two_channel"),
    BagOfEmbeddings(V, 7, embed_dim=8, hidden=16),
]
LMS = [CausalConvLM(V, embed_dim=8, features=8, width=5, depth=3), WindowMLPLM(V, 8, hidden=12)]


def _sentences(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.integers(2, V, n).astype(np.int32) for n in (1, 5, 9, 12)]


def _init(model, x, seed=0):
    """Random parameters of the model's shapes, without compiling its initialisers (XLA
    compiles of truncated-normal init dominate a small test on a busy CPU)."""
    shapes = jax.eval_shape(model.init, jax.random.key(0), x)
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda s: jnp.asarray(rng.normal(0.0, 0.3, s.shape).astype(s.dtype)), shapes
    )


def _x(seqs, length):
    ids, mask = pad_to(seqs, length)
    return {"ids": jnp.asarray(ids), "mask": jnp.asarray(mask)}


@pytest.mark.parametrize("model", CLASSIFIERS + LMS, ids=lambda m: type(m).__name__)
def test_same_sentence_same_logits_in_every_bucket(model):
    seqs = _sentences()
    variables = _init(model, _x(seqs, 12), 0)
    apply = jax.jit(model.apply)  # one compilation per bucket instead of one per op
    out = {n: np.asarray(apply(variables, _x(seqs, n))) for n in (12, 40)}
    for n in (40,):
        if out[12].ndim == 2:
            np.testing.assert_allclose(out[n], out[12], rtol=1e-5, atol=1e-6)
        else:  # per-token: compare the real positions
            for i, s in enumerate(seqs):
                np.testing.assert_allclose(out[n][i, : len(s)], out[12][i, : len(s)], atol=1e-5)


@pytest.mark.parametrize("model", CLASSIFIERS + LMS, ids=lambda m: type(m).__name__)
def test_mask_hides_padding_completely(model):
    seqs = _sentences()
    x = _x(seqs, 16)
    # padded slots hold words 50..59, which occur nowhere in the sentences: if the mask leaked,
    # the logits would change and those words' vectors would get gradient.
    seqs = [np.where(s >= 50, 2, s).astype(np.int32) for s in seqs]
    x = _x(seqs, 16)
    noisy = dict(x, ids=jnp.where(x["mask"], x["ids"], 50 + jnp.arange(16) % 10))
    variables = _init(model, x, 1)
    real = x["mask"][..., None] if model in LMS else True

    def loss(params, xx):
        out = model.apply({"params": params}, xx)
        return jnp.sum(jnp.where(real, out, 0.0) ** 2)

    apply = jax.jit(model.apply)
    a, b = apply(variables, x), apply(variables, noisy)
    np.testing.assert_allclose(np.where(real, a, 0), np.where(real, b, 0), rtol=1e-5, atol=1e-6)
    grad = jax.jit(jax.grad(loss))(variables["params"], noisy)["embed"]["table"]
    assert np.all(np.asarray(grad)[50:] == 0.0)
    assert np.any(np.asarray(grad)[2:50] != 0.0)  # and the real words do learn


@pytest.mark.parametrize("model", LMS, ids=lambda m: type(m).__name__)
def test_next_word_models_never_see_the_future(model):
    ids = np.random.default_rng(3).integers(2, V, (1, 20)).astype(np.int32)
    x = {"ids": jnp.asarray(ids), "mask": jnp.ones((1, 20), bool)}
    variables = _init(model, x, 2)
    apply = jax.jit(model.apply)
    base = np.asarray(apply(variables, x))
    for t in (0, 7, 18):
        changed = ids.copy()
        changed[0, t + 1] = (changed[0, t + 1] + 1 - 2) % (V - 2) + 2
        out = np.asarray(apply(variables, dict(x, ids=jnp.asarray(changed))))
        np.testing.assert_array_equal(out[0, : t + 1], base[0, : t + 1])
        assert not np.allclose(out[0, t + 1], base[0, t + 1])  # the change is visible at t+1


def test_static_and_two_channel_embeddings_are_frozen():
    x = _x(_sentences(), 16)
    for mode, frozen, trained in (
        ("static", ["embed"], []),
        ("two_channel", ["embed_static"], ["embed"]),
    ):
        model = KimCNN(V, 7, embed_dim=8, widths=(3,), features=6, embeddings=mode)
        params = _init(model, x, 0)["params"]
        grads = jax.jit(jax.grad(lambda p, m=model: jnp.sum(m.apply({"params": p}, x) ** 2)))(
            params
        )
        for name in frozen:
            assert np.all(np.asarray(grads[name]["table"]) == 0.0)
        for name in trained:
            assert np.any(np.asarray(grads[name]["table"]) != 0.0)


def test_dropout_only_in_training():
    model = CLASSIFIERS[0]
    x = _x(_sentences(), 16)
    variables = _init(model, x, 0)
    apply = jax.jit(model.apply, static_argnames="train")
    a = apply(variables, x, train=True, rngs={"dropout": jax.random.key(1)})
    b = apply(variables, x, train=True, rngs={"dropout": jax.random.key(2)})
    assert not np.allclose(a, b)
    # Evaluation applies no dropout: it equals the same model with rate 0 in training mode
    # (comparing two identical evaluation calls could not fail).
    no_dropout = model.clone(dropout=0.0)
    want = no_dropout.apply(variables, x, train=True, rngs={"dropout": jax.random.key(3)})
    np.testing.assert_allclose(apply(variables, x), want, rtol=1e-6, atol=1e-6)
    assert not np.allclose(a, want)


def test_bad_inputs():
    model = CLASSIFIERS[0]
    with pytest.raises(TypeError, match="KimCNN: x must be a dict with 'ids' and 'mask'"):
        model.init(jax.random.key(0), jnp.zeros((2, 5), jnp.int32))
    with pytest.raises(ValueError, match=r"KimCNN: x\['mask'\] must have shape \(2, 5\)"):
        model.init(
            jax.random.key(0), {"ids": jnp.zeros((2, 5), jnp.int32), "mask": jnp.ones((2, 4), bool)}
        )
    with pytest.raises(ValueError, match=r"CausalConvLM: x\['ids'\] must have rank 2"):
        LMS[0].init(
            jax.random.key(0), {"ids": jnp.zeros((5,), jnp.int32), "mask": jnp.ones((5,), bool)}
        )
    with pytest.raises(ValueError, match="KimCNN: embeddings must be one of"):
        KimCNN(V, 3, embeddings="frozen").init(jax.random.key(0), _x(_sentences(), 12))
