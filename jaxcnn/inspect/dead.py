"""Dead filters and redundant ones: which channels never fire, which fire together.

The notes: a filter whose convolution output is negative for every input is zero after ReLU
everywhere (a "dead" filter, often from a too-high learning rate), and useful feature maps
should be uncorrelated. Both are measured over a whole data set, batch by batch, with running
sums in float64 so the result does not depend on the batch size.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import flax.linen as nn
import jax
import numpy as np

from jaxcnn import _checks
from jaxcnn.inspect.activations import conv_activations


class ChannelStats:
    """Running per-channel max and correlation statistics of ``(N, H, W, C)`` maps.

    ``sum`` and ``outer`` accumulate ``x - shift``, where ``shift`` is each channel's first
    observation: without the shift, ``E[x x] - E[x] E[x]`` of a constant channel is rounding
    noise instead of 0 and two constant channels could show a "correlation" of 3.
    """

    def __init__(self, channels: int):
        self.max = np.full(channels, -np.inf)
        self.count = 0
        self.shift = np.zeros(channels)
        self.sum = np.zeros(channels)
        self.outer = np.zeros((channels, channels))

    def update(self, maps: np.ndarray) -> None:
        """Add a batch ``(N, H, W, C)``; every pixel of every example is one observation.

        Raises:
          TypeError / ValueError: ``maps`` not a rank-4 array with this object's ``C`` channels.
        """
        shape = _checks.rank(maps, 4, "ChannelStats.update", "maps", "(N, H, W, C)")
        if shape[3] != len(self.max):
            raise ValueError(
                f"ChannelStats.update: maps must have {len(self.max)} channels, got shape {shape}"
            )
        flat = np.asarray(maps, np.float64).reshape(-1, shape[3])
        if flat.shape[0] == 0:
            return
        if self.count == 0:
            self.shift = flat[0].copy()
        self.max = np.maximum(self.max, flat.max(axis=0))
        self.count += flat.shape[0]
        centred = flat - self.shift
        self.sum += centred.sum(axis=0)
        self.outer += centred.T @ centred

    def correlation(self) -> np.ndarray:
        """``(C, C)`` Pearson correlation; NaN rows/columns for constant (e.g. dead) channels."""
        mean = self.sum / self.count
        cov = self.outer / self.count - np.outer(mean, mean)
        sd = np.sqrt(np.clip(np.diag(cov), 0, None))
        with np.errstate(invalid="ignore", divide="ignore"):
            corr = cov / np.outer(sd, sd)
        corr[sd <= 1e-12, :] = np.nan
        corr[:, sd <= 1e-12] = np.nan
        return corr


def dead_filter_report(
    model: nn.Module,
    variables: Mapping[str, Any],
    images: np.ndarray | jax.Array,
    *,
    batch_size: int = 256,
    threshold: float = 0.9,
) -> dict[str, dict[str, Any]]:
    """Dead and highly correlated channels of every conv layer over a data set (after ReLU).

    Args:
      model, variables: a Flax model (see ``conv_activations``).
      images: ``(N, H, W, C)`` NHWC inputs (NumPy or JAX).
      batch_size: examples per forward pass.
      threshold: report channel pairs whose ``|correlation|`` is at least this.

    Returns:
      ``{layer path: report}``, each report a dict of ``"channels"``, ``"dead"`` (list of
      channel ids), ``"dead_fraction"``, ``"mean_abs_correlation"`` (over live pairs) and
      ``"correlated_pairs"`` (``[(i, j, r), ...]``).

    Raises:
      TypeError: ``threshold`` not a number.
      ValueError: bad ``images`` rank or ``batch_size``, or ``threshold`` not in ``[0, 1]``.
    """
    # NaN or a str compared False / failed only after the whole forward pass.
    if not _checks.is_real(threshold):
        raise TypeError(
            f"dead_filter_report: threshold must be a number, got {type(threshold).__name__}"
        )
    if not 0 <= threshold <= 1:
        raise ValueError(f"dead_filter_report: threshold must be in [0, 1], got {threshold!r}")
    n = _checks.rank(images, 4, "dead_filter_report", "images", "(N, H, W, C)")[0]
    _checks.positive(
        _checks.ntuple(batch_size, 1, "dead_filter_report", "batch_size"),
        "dead_filter_report",
        "batch_size",
    )
    stats: dict[str, ChannelStats] = {}
    for start in range(0, n, batch_size):
        maps = conv_activations(model, variables, images[start : start + batch_size], relu=True)
        for name, m in maps.items():
            stats.setdefault(name, ChannelStats(m.shape[-1])).update(m)
    return {name: _summarise(s, threshold) for name, s in stats.items()}


def _summarise(s: ChannelStats, threshold: float) -> dict:
    dead = [int(c) for c in np.flatnonzero(s.max <= 0)]
    corr = s.correlation()
    upper = np.triu_indices(len(s.max), k=1)
    values = corr[upper]
    live = ~np.isnan(values)
    pairs = [
        (int(i), int(j), round(float(r), 4))
        for i, j, r in zip(upper[0][live], upper[1][live], values[live], strict=True)
        if abs(r) >= threshold
    ]
    return {
        "channels": len(s.max),
        "dead": dead,
        "dead_fraction": len(dead) / len(s.max),
        "mean_abs_correlation": float(np.abs(values[live]).mean()) if live.any() else float("nan"),
        "correlated_pairs": pairs,
    }
