"""experiments.notes_cnn: the per-layer diagnosis sees a dead layer and the gradient it blocks."""

import jax
import numpy as np
import pytest
from jaxcnn.audio import models
from jaxcnn.experiments import notes_cnn


@pytest.mark.slow  # eager 10-layer forward and gradient: minutes on 2 loaded cores
def test_a_layer_killed_by_hand_is_dead_and_stops_the_gradient_below_it():
    model = models.NotesCNN()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 21, 40)).astype(np.float32)
    y = rng.integers(0, 138, size=16).astype(np.int32)
    variables = jax.device_get(model.init(jax.random.key(0), x))
    params = jax.tree.map(np.array, variables["params"])
    # layer 3 (Conv2D_2): zero kernel and a negative bias -> every output is -1, zero after ReLU
    params["Conv2D_2"]["kernel"][:] = 0.0
    params["Conv2D_2"]["bias"][:] = -1.0
    out = notes_cnn.diagnose(model, {"params": params}, x, y, x)
    assert len(out["dead_fraction"]) == len(out["grad_norm"]) == 10
    assert out["dead_fraction"][2] == 1.0 and out["zero_fraction"][2] == 1.0
    # nothing flows back through a layer that is zero everywhere: no gradient at or below it
    assert out["grad_norm"][0] == out["grad_norm"][1] == out["grad_norm"][2] == 0.0
    intact = notes_cnn.diagnose(model, variables, x, y, x)
    assert all(g > 0 for g in intact["grad_norm"][:3])
