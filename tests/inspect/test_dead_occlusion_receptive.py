"""Dead filters, occlusion and receptive fields on models whose answer is known by construction."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.arith.receptive import Window
from jaxcnn.inspect import (
    dead_filter_report,
    gradient_receptive_field,
    occlusion_map,
    receptive_window,
)
from jaxcnn.inspect.dead import ChannelStats, _summarise


class OneConv(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.relu(nn.Conv(4, (3, 3), padding="SAME", name="conv")(x))
        return x.mean(axis=(1, 2))


def test_all_zero_filter_is_dead_and_duplicates_are_correlated():
    model = OneConv()
    x = jax.random.normal(jax.random.key(0), (20, 8, 8, 1))
    variables = model.init(jax.random.key(1), x)
    k = np.array(variables["params"]["conv"]["kernel"])
    k[..., 1] = 0.0  # all-zero filter, zero bias: output 0, never > 0 after ReLU
    k[..., 3] = 2.0 * k[..., 0]  # same filter, scaled: perfectly correlated maps
    variables = {"params": {"conv": {"kernel": jnp.asarray(k), "bias": jnp.zeros(4)}}}
    report = dead_filter_report(model, variables, x, batch_size=7)["conv"]
    assert report["dead"] == [1] and report["dead_fraction"] == 0.25
    assert (0, 3, 1.0) in report["correlated_pairs"]
    # Independent reference: NumPy's corrcoef over every (example, pixel) of the live channels.
    maps = np.maximum(
        jax.lax.conv_general_dilated(
            x, jnp.asarray(k), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        ),
        0,
    ).reshape(-1, 4)
    corr = np.corrcoef(maps[:, [0, 2, 3]].T)
    want = np.mean(np.abs(corr[np.triu_indices(3, 1)]))
    assert report["mean_abs_correlation"] == pytest.approx(want, rel=1e-6)
    with pytest.raises(ValueError, match="dead_filter_report: batch_size must be positive"):
        dead_filter_report(model, variables, x, batch_size=0)


def test_dead_filter_report_threshold_is_checked():
    # threshold=nan reported no pairs; "0.9" failed only after the whole forward pass.
    model = OneConv()
    x = jnp.zeros((2, 8, 8, 1))
    variables = model.init(jax.random.key(1), x)
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got nan"):
        dead_filter_report(model, variables, x, threshold=float("nan"))
    with pytest.raises(ValueError, match=r"threshold must be in \[0, 1\], got 1.5"):
        dead_filter_report(model, variables, x, threshold=1.5)
    with pytest.raises(TypeError, match="threshold must be a number, got str"):
        dead_filter_report(model, variables, x, threshold="0.9")


def test_constant_channels_are_not_correlated():
    # Unshifted sums left rounding noise as the variance of these two constant channels, and
    # their "correlation" came out as 3.0 (a reported pair, and r outside [-1, 1]).
    stats = ChannelStats(4)
    rng = np.random.default_rng(0)
    batches = []
    for _ in range(7):
        live = rng.normal(size=(13, 7, 7, 2))
        const = np.broadcast_to([5249.9462890625, 5426.2978515625], (13, 7, 7, 2))
        batches.append(np.concatenate([const, live], axis=-1).astype(np.float32))
        stats.update(batches[-1])
    corr = stats.correlation()
    assert np.isnan(corr[:2]).all() and np.isnan(corr[:, :2]).all()
    flat = np.concatenate(batches).reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(corr[2:, 2:], np.corrcoef(flat[:, 2:].T), rtol=1e-12, atol=1e-12)
    summary = _summarise(stats, 0.9)
    assert summary["correlated_pairs"] == [] and summary["dead"] == []
    with pytest.raises(ValueError, match=r"ChannelStats.update: maps must have 4 channels, got"):
        stats.update(np.zeros((1, 2, 2, 3)))
    with pytest.raises(ValueError, match=r"maps must have rank 4 \(N, H, W, C\)"):
        stats.update(np.zeros((2, 2, 4)))


def test_occlusion_of_a_one_pixel_model():
    pixel = (10, 12)

    def logits_fn(batch):  # class 0 is evidence from one pixel only; class 1 a constant
        v = batch[:, pixel[0], pixel[1], 0]
        return jnp.stack([4.0 * v, jnp.zeros_like(v)], axis=-1)

    image = jax.random.uniform(jax.random.key(0), (16, 20, 1), minval=0.5, maxval=1.0)
    m = np.asarray(occlusion_map(logits_fn, image, 0, patch=3, stride=1, batch_size=64))
    assert m.shape == (16, 20)
    rows, cols = np.nonzero(m)
    assert set(rows) == {9, 10, 11} and set(cols) == {11, 12, 13}  # the 3x3 centres covering it
    v = float(image[pixel[0], pixel[1], 0])
    want = 1 / (1 + np.exp(-4 * v)) - 0.5  # p(0) before, minus p(0) = 1/2 with the pixel at 0
    np.testing.assert_allclose(m[rows, cols], want, rtol=1e-5)
    m2 = np.asarray(occlusion_map(logits_fn, image, 0, patch=4, stride=2))
    assert m2.shape == (8, 10)
    with pytest.raises(ValueError, match=r"occlusion_map: image must have rank 3 \(H, W, C\)"):
        occlusion_map(logits_fn, image[None], 0)
    with pytest.raises(ValueError, match="occlusion_map: patch must be positive"):
        occlusion_map(logits_fn, image, 0, patch=0)


def test_occlusion_rejects_a_label_outside_the_classes():
    # JAX clamps out-of-range indices: label 7 of 2 classes would silently track class 1.
    def logits_fn(batch):
        v = batch[:, 0, 0, 0]
        return jnp.stack([v, -v], axis=-1)

    image = jnp.ones((4, 4, 1))
    np.testing.assert_allclose(
        occlusion_map(logits_fn, image, jnp.int32(1)), occlusion_map(logits_fn, image, 1)
    )
    with pytest.raises(ValueError, match=r"occlusion_map: label must be in \[0, 2\), got 7"):
        occlusion_map(logits_fn, image, 7)
    with pytest.raises(ValueError, match=r"occlusion_map: label must be in \[0, 2\), got -1"):
        occlusion_map(logits_fn, image, -1)
    with pytest.raises(TypeError, match="occlusion_map: label must be an int, got float 1.0"):
        occlusion_map(logits_fn, image, 1.0)
    with pytest.raises(ValueError, match="occlusion_map: batch_size must be a positive int, got 0"):
        occlusion_map(logits_fn, image, 0, batch_size=0)
    with pytest.raises(ValueError, match=r"logits_fn must map .* got shape \(1, 2, 1\)"):
        occlusion_map(lambda b: logits_fn(b)[..., None], image, 0)


def _ones_net(x):
    """conv 3x3 -> avg pool 2/2 -> conv 3x3 stride 2 pad 1 dilation 2, all-ones kernels."""
    dn = ("NHWC", "HWIO", "NHWC")
    x = jax.lax.conv_general_dilated(
        x, jnp.ones((3, 3, 1, 1)), (1, 1), "VALID", dimension_numbers=dn
    )
    x = jax.lax.reduce_window(x, 0.0, jax.lax.add, (1, 2, 2, 1), (1, 2, 2, 1), "VALID") / 4
    return jax.lax.conv_general_dilated(
        x,
        jnp.ones((3, 3, 1, 1)),
        (2, 2),
        ((1, 1), (1, 1)),
        rhs_dilation=(2, 2),
        dimension_numbers=dn,
    )


LAYERS = [Window(3), Window(2, stride=2), Window(3, stride=2, dilation=2, padding=1)]


@pytest.mark.parametrize("unit", [(2, 1), (3, 3), (1, 4)])
def test_receptive_window_equals_gradient_support(unit):
    image = jnp.ones((30, 30, 1))
    grad = gradient_receptive_field(_ones_net, image, (*unit, 0))
    rows, cols = np.nonzero(grad)
    want = receptive_window(LAYERS, unit, (30, 30))
    assert ((rows.min(), rows.max() + 1), (cols.min(), cols.max() + 1)) == want


def test_receptive_window_at_the_border_is_a_bounding_span():
    # Unit 0 of the dilated, padded last conv taps pooled rows -1 (padding), 1 and 3: the closed
    # form gives the span clipped to the image, the gradient starts where the first real tap does.
    grad = gradient_receptive_field(_ones_net, jnp.ones((30, 30, 1)), (0, 0, 0))
    rows, _ = np.nonzero(grad)
    assert receptive_window(LAYERS, (0, 0), (30, 30)) == ((0, 10), (0, 10))
    assert (rows.min(), rows.max() + 1) == (2, 10)
    assert receptive_window(LAYERS, (0,)) == ((-2, 10),)  # unclipped: reaches into the padding
    with pytest.raises(ValueError, match="receptive_window: unit must be non-negative"):
        receptive_window(LAYERS, (-1, 0))


def test_receptive_window_rejects_float_units_and_a_short_shape():
    # A float unit returned float bounds (2.0, 6.0); a short shape hit zip(strict=True).
    with pytest.raises(TypeError, match="receptive_window: unit must contain ints, got float"):
        receptive_window(LAYERS, (1.0, 2))
    with pytest.raises(ValueError, match=r"shape must have one size per axis of unit \(2\)"):
        receptive_window(LAYERS, (1, 2), shape=(30,))


def test_gradient_receptive_field_rejects_a_unit_outside_the_map():
    # (1, 3, 3, 1) output: JAX would clamp (10, 0, 0) to (2, 0, 0) and (-1, 0, 0) would wrap.
    image = jnp.ones((16, 16, 1))
    for unit in [(3, 0, 0), (10, 0, 0), (-1, 0, 0), (0, 0, 1)]:
        with pytest.raises(ValueError, match=r"unit must index the output map \(3, 3, 1\)"):
            gradient_receptive_field(_ones_net, image, unit)
    with pytest.raises(ValueError, match="unit must be an int or 3 ints, got \\(1, 2\\)"):
        gradient_receptive_field(_ones_net, image, (1, 2))
    with pytest.raises(TypeError, match="unit must contain ints"):
        gradient_receptive_field(_ones_net, image, (1.0, 2, 0))
    with pytest.raises(ValueError, match=r"fn must map .* got shape \(1, 3, 3\)"):
        gradient_receptive_field(lambda x: _ones_net(x)[..., 0], image, (0, 0, 0))
