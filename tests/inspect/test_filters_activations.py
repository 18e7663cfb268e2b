"""Filter grids and activation maps against direct computations with jax.lax."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.inspect import (
    conv_activations,
    filter_grid,
    first_conv_kernel,
    save_activation_maps,
    save_filter_grid,
)


class TwoConvs(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        x = nn.relu(nn.Conv(3, (3, 3), padding="VALID", name="c1")(x))
        x = nn.relu(nn.Conv(2, (3, 3), strides=2, padding="VALID", name="c2")(x))
        return nn.Dense(4)(x.reshape(x.shape[0], -1))


def test_filter_grid_places_and_rescales_each_filter():
    k = np.arange(2 * 2 * 1 * 5, dtype=np.float64).reshape(2, 2, 1, 5)
    grid = filter_grid(k, columns=3, pad=1)
    assert grid.shape == (2 * 3 - 1, 3 * 3 - 1, 1)
    f4 = k[..., 0, 4]
    np.testing.assert_allclose(grid[3:5, 3:5, 0], (f4 - f4.min()) / (f4.max() - f4.min()))
    assert grid[2, 0, 0] == 1.0  # padding row is white
    with pytest.raises(ValueError, match=r"filter_grid: kernel must have C_in 1 or 3, got shape"):
        filter_grid(np.zeros((3, 3, 2, 4)))


def test_filter_grid_rejects_bad_columns_and_pad():
    # pad=-1 overlapped the filters silently; columns=0 fell back to the default silently.
    k = np.zeros((3, 3, 1, 4))
    with pytest.raises(ValueError, match="filter_grid: pad must be non-negative, got -1"):
        filter_grid(k, pad=-1)
    with pytest.raises(ValueError, match="filter_grid: columns must be a positive int, got 0"):
        filter_grid(k, columns=0)
    with pytest.raises(ValueError, match="filter_grid: columns must be a positive int, got -1"):
        filter_grid(k, columns=-1)
    with pytest.raises(TypeError, match="filter_grid: columns must be a positive int, got float"):
        filter_grid(k, columns=2.0)
    assert filter_grid(k, columns=4, pad=0).shape == (3, 12, 1)


def test_first_conv_kernel_follows_creation_order(tmp_path):
    params = {"layers_2": {"kernel": np.ones((3, 3, 1, 2))}, "layers_10": {"kernel": np.zeros(3)}}
    params = {"layers_10": {"bias": np.zeros(2)}, **params}
    path, kernel = first_conv_kernel(params)
    assert path == "layers_2/kernel" and kernel.shape == (3, 3, 1, 2)
    save_filter_grid(kernel, tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 0
    with pytest.raises(ValueError, match="params must contain a rank-4 'kernel'"):
        first_conv_kernel({"dense": {"kernel": np.zeros((3, 4))}})


def test_conv_activations_match_lax():
    model = TwoConvs()
    x = jax.random.normal(jax.random.key(0), (2, 9, 9, 1))
    variables = model.init(jax.random.key(1), x)
    maps = conv_activations(model, variables, x)
    assert list(maps) == ["c1", "c2"]
    p = variables["params"]
    dn = ("NHWC", "HWIO", "NHWC")
    want1 = jax.lax.conv_general_dilated(
        x, p["c1"]["kernel"], (1, 1), "VALID", dimension_numbers=dn
    )
    want1 = jnp.maximum(want1 + p["c1"]["bias"].reshape(1, 1, 1, -1), 0)
    np.testing.assert_allclose(maps["c1"], want1, rtol=1e-5, atol=1e-6)
    assert maps["c2"].shape == (2, 3, 3, 2) and maps["c2"].min() >= 0
    raw = conv_activations(model, variables, x, relu=False)
    assert raw["c1"].min() < 0
    with pytest.raises(ValueError, match=r"conv_activations: x must have rank 4 \(N, H, W, C\)"):
        conv_activations(model, variables, x[0])


def test_save_activation_maps_checks_its_arguments(tmp_path):
    # These reached matplotlib ("Number of columns must be a positive integer", "Invalid shape").
    path = tmp_path / "a.png"
    maps = {"c": np.ones((1, 4, 4, 2))}
    with pytest.raises(ValueError, match="save_activation_maps: max_channels must be a positive"):
        save_activation_maps(maps, path, max_channels=0)
    with pytest.raises(ValueError, match="save_activation_maps: maps must hold at least one layer"):
        save_activation_maps({}, path)
    with pytest.raises(ValueError, match=r"maps\['c'\] must have rank 4 \(N, H, W, C\), got"):
        save_activation_maps({"c": np.ones((4, 4, 2))}, path)
    with pytest.raises(ValueError, match=r"image must have rank 3 \(H, W, C\)"):
        save_activation_maps(maps, path, image=np.ones((4, 4)))
    assert not path.exists()
    save_activation_maps(maps, path, image=np.ones((4, 4, 1)), max_channels=1)
    assert path.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("channels", [1, 3])
def test_save_activation_maps_draws_the_input_in_its_colours(monkeypatch, tmp_path, channels):
    # An RGB input was drawn from its red channel only, as grayscale.
    import jaxcnn.inspect.activations as activations

    drawn = []
    monkeypatch.setattr(
        activations,
        "save_figure",
        lambda fig, path, **kw: drawn.append(np.asarray(fig.axes[0].images[0].get_array())),
    )
    image = np.arange(4 * 5 * channels, dtype=np.float32).reshape(4, 5, channels) * 3.0 - 7.0
    save_activation_maps({"c": np.ones((1, 4, 5, 2))}, tmp_path / "a.png", image=image)
    (got,) = drawn
    if channels == 1:
        np.testing.assert_array_equal(got, image[..., 0])  # imshow's gray colormap scales it
    else:
        want = (image - image.min()) / (image.max() - image.min())
        np.testing.assert_allclose(got, want, rtol=1e-6)
