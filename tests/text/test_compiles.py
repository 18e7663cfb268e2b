"""Bucketing keeps its promise: at most one compilation per bucket per function, all epochs."""

import numpy as np
from jaxcnn.text.compiles import count_compiles
from jaxcnn.text.datasets import bucket_datasets, token_dataset
from jaxcnn.text.models import KimCNN
from jaxcnn.text.sequences import pad_to

from jaxcnn.train import TrainConfig, fit, programs


def test_three_epochs_compile_once_per_bucket():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(2, 30, n).astype(np.int32) for n in rng.integers(1, 20, 64)]
    y = rng.integers(0, 3, 64).astype(np.int32)
    train, stats = bucket_datasets(seqs, y, (8, 20), min_count=8)
    assert len(train) == 2 and sum(stats.counts) == 64
    ids, mask = pad_to(seqs, 20)
    dev = token_dataset(ids, mask, y)
    model = KimCNN(30, 3, embed_dim=4, widths=(3,), features=4)
    programs.clear()  # an earlier test's equal program would be reused, not compiled
    with count_compiles() as compiles:
        result = fit(model, train, dev, TrainConfig(epochs=3, batch_size=8, progress=False))
    assert len(result.history) == 3
    # the loop's compiled function is "chunk": one per training bucket plus one evaluation
    # pass for the single-length dev set, over all three epochs (later epochs add none)
    assert compiles["jit(chunk)"] == len(train) + 1
    assert result.compiles == len(train)


def test_counter_counts_real_compilations_only():
    import jax
    import jax.numpy as jnp

    @jax.jit
    def step(x):
        return x * 2

    with count_compiles() as compiles:
        step(jnp.ones(3))
        step(jnp.ones(3))  # cached: not a compilation
        step(jnp.ones(4))  # a new shape is
    assert compiles["jit(step)"] == 2
    step(jnp.ones(5))
    assert compiles["jit(step)"] == 2  # the listener is gone after the block
