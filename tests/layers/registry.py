"""Every layer once, with an example input: drives the cross-cutting tests (haiku's descriptors).

Each entry: ``(id, make_module, input_shape, train)``. ``train=True`` entries are applied with
the ``"dropout"`` rng and ``mutable=["batch_stats"]`` so train-mode code paths are covered too.
"""

from __future__ import annotations

import flax.linen as nn

from jaxcnn import layers as L

LAYERS = [
    ("conv1d", lambda: L.Conv1D(4, 3, stride=2, padding="SAME"), (2, 9, 3), False),
    ("conv1d_causal_dil", lambda: L.Conv1D(4, 3, padding="CAUSAL", dilation=2), (2, 9, 2), False),
    ("conv2d", lambda: L.Conv2D(4, (3, 2), padding=1), (2, 6, 5, 3), False),
    ("conv2d_groups_flip", lambda: L.Conv2D(6, 3, groups=3, flip=True), (2, 5, 5, 3), False),
    ("conv2d_few_channels", lambda: L.Conv2D(3, 3), (2, 6, 7, 2), False),
    ("conv_transpose1d", lambda: L.ConvTranspose1D(3, 3, stride=2, padding=1), (2, 5, 4), False),
    (
        "conv_transpose2d",
        lambda: L.ConvTranspose2D(2, 3, stride=2, output_padding=1),
        (2, 4, 3, 3),
        False,
    ),
    ("max_pool1d", lambda: L.MaxPool(2), (2, 7, 3), False),
    ("max_pool2d", lambda: L.MaxPool((3, 2), stride=1, padding=1), (2, 5, 6, 3), False),
    ("avg_pool2d", lambda: L.AvgPool(2, padding=1, count_include_pad=False), (2, 5, 5, 2), False),
    ("global_avg_pool", L.GlobalAvgPool, (2, 4, 5, 3), False),
    ("global_max_pool", L.GlobalMaxPool, (2, 7, 3), False),
    ("flatten", L.Flatten, (2, 3, 4, 2), False),
    ("dense", lambda: L.Dense(5), (2, 3, 7), False),
    ("dropout_train", lambda: L.Dropout(0.5), (2, 6, 3), True),
    ("batch_norm_train", L.BatchNorm, (4, 3, 3, 2), True),
    ("batch_norm_eval", L.BatchNorm, (4, 5, 2), False),
    ("layer_norm", L.LayerNorm, (2, 3, 6), False),
    ("residual2d_proj", lambda: L.ResidualBlock2D(4, stride=2), (2, 5, 5, 3), False),
    ("residual1d_identity", lambda: L.ResidualBlock1D(3, norm=False), (2, 6, 3), False),
    (
        "sequential",
        lambda: L.Sequential([L.Conv2D(3, 3), nn.relu, L.Dropout(0.2), L.Flatten(), L.Dense(2)]),
        (2, 5, 5, 1),
        False,
    ),
]


def random_variables(module, x, seed: int = 0):
    """Variables of ``module`` for input ``x``, filled from NumPy without compiling ``init``.

    Shapes come from ``jax.eval_shape(module.init, ...)`` (tracing only); values are standard
    normal, except running variances, which are made positive.
    """
    import jax
    import jax.numpy as jnp
    import numpy as np

    rngs = {"params": jax.random.key(0), "dropout": jax.random.key(1)}
    shapes = jax.eval_shape(module.init, rngs, x)
    rng = np.random.default_rng(seed)

    def fill(path, s):
        v = rng.standard_normal(s.shape).astype(np.float32)
        if any(getattr(p, "key", None) == "var" for p in path):
            v = np.abs(v) + 0.5
        return jnp.asarray(v)

    return jax.tree_util.tree_map_with_path(fill, shapes)
