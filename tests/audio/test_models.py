import jax
import jax.numpy as jnp
import pytest
from jaxcnn.audio import models


def test_parameter_counts_match_the_notes():
    # The notes' MLP: weights and biases of 840 -> 128 -> 128 -> 128 -> 138.
    mlp = (21 * 40 * 128 + 128) + 2 * (128 * 128 + 128) + (128 * 138 + 138)
    assert mlp == 158_474 == models.count_params(models.NotesMLP())
    # Ten 3x3 VALID convs with 3 filters: 21x40 -> 1x20, then 60 -> 138.
    notes_cnn = (3 * 3 * 1 * 3 + 3) + 9 * (3 * 3 * 3 * 3 + 3) + (1 * 20 * 3 * 138 + 138)
    assert notes_cnn == 9_204 == models.count_params(models.NotesCNN())
    assert abs(models.count_params(models.CNN100k()) - 100_000) < 2_000


@pytest.mark.parametrize("name", sorted(models.MODELS))
def test_shapes_and_rank_check(name):
    # Shapes by abstract evaluation (no compile): the training tests run the real thing.
    model = models.MODELS[name]()
    x = jax.ShapeDtypeStruct((4, 21, 40), jnp.float32)
    rngs = {"params": jax.random.key(1), "dropout": jax.random.key(2)}
    variables = jax.eval_shape(lambda: model.init(rngs, jnp.zeros((4, 21, 40))))
    out = jax.eval_shape(lambda v, x: model.apply(v, x), variables, x)
    assert out.shape == (4, 138)
    bad = jax.ShapeDtypeStruct((21, 40), jnp.float32)
    with pytest.raises(ValueError, match=r"x must have rank 3 \(B, frames, features\)"):
        jax.eval_shape(lambda v, x: model.apply(v, x), variables, bad)
