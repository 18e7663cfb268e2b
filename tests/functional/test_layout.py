"""Layout helpers: NCHW <-> NHWC and PyTorch kernels, checked against PyTorch's definitions
written as naive channels-first loops (and torch itself when it is importable)."""

import numpy as np
import pytest

from jaxcnn.functional import (
    conv1d,
    conv2d,
    conv_transpose2d,
    kernel_from_torch,
    kernel_to_torch,
    to_channels_first,
    to_channels_last,
)


def _rand(seed, *shape):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _torch_conv2d(x, w, stride, groups):
    """PyTorch's conv2d, channels-first, no padding: out[n, o, i, j] = sum x * w[o, c, kh, kw]."""
    n, c_in, h, wd = x.shape
    c_out, cig, kh, kw = w.shape
    cog = c_out // groups
    ho, wo = (h - kh) // stride + 1, (wd - kw) // stride + 1
    out = np.zeros((n, c_out, ho, wo))
    for o in range(c_out):
        g = o // cog
        for i in range(ho):
            for j in range(wo):
                patch = x[:, g * cig : (g + 1) * cig, i * stride : i * stride + kh,
                          j * stride : j * stride + kw]  # fmt: skip
                out[:, o, i, j] = np.einsum("nchw,chw->n", patch, w[o])
    return out


def _torch_conv_transpose2d(x, w, stride, padding, groups):
    """PyTorch's conv_transpose2d, channels-first: scatter x[n, a, i, j] * w[a, b, kh, kw]."""
    n, c_a, h, wd = x.shape
    _, cbg, kh, kw = w.shape
    cag = c_a // groups
    ho, wo = (h - 1) * stride - 2 * padding + kh, (wd - 1) * stride - 2 * padding + kw
    out = np.zeros((n, cbg * groups, ho, wo))
    for a in range(c_a):
        g = a // cag
        for i in range(h):
            for j in range(wd):
                for p in range(kh):
                    for q in range(kw):
                        r, c = i * stride + p - padding, j * stride + q - padding
                        if 0 <= r < ho and 0 <= c < wo:
                            out[:, g * cbg : (g + 1) * cbg, r, c] += np.outer(
                                x[:, a, i, j], w[a, :, p, q]
                            )
    return out


def test_activation_layouts_match_moveaxis_and_round_trip():
    for shape in [(2, 3, 7), (2, 3, 5, 4)]:
        x = _rand(0, *shape)
        last = np.asarray(to_channels_last(x))
        np.testing.assert_array_equal(last, np.moveaxis(x, 1, -1))
        np.testing.assert_array_equal(np.asarray(to_channels_first(last)), x)
    x5 = _rand(1, 2, 3, 4, 5, 6)
    last5 = np.asarray(to_channels_last(x5, spatial_dims=3))
    np.testing.assert_array_equal(last5, np.moveaxis(x5, 1, -1))
    np.testing.assert_array_equal(np.asarray(to_channels_first(last5, spatial_dims=3)), x5)


@pytest.mark.parametrize("groups", [1, 2])
def test_kernel_from_torch_reproduces_torch_conv2d(groups):
    x, w = _rand(2, 2, 4, 7, 6), _rand(3, 6, 4 // groups, 3, 2)  # NCHW, OIHW
    want = _torch_conv2d(x, w, stride=2, groups=groups)
    got = conv2d(to_channels_last(x), kernel_from_torch(w, groups=groups), stride=2, groups=groups)
    np.testing.assert_allclose(np.asarray(to_channels_first(got)), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(kernel_to_torch(kernel_from_torch(w))), w)


def test_kernel_from_torch_1d_is_oiw_to_wio():
    x, w = _rand(4, 1, 3, 9), _rand(5, 2, 3, 4)  # NCW, OIW
    got = np.asarray(to_channels_first(conv1d(to_channels_last(x), kernel_from_torch(w))))
    want = _torch_conv2d(x[:, :, None, :], w[:, :, None, :], stride=1, groups=1)[:, :, 0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert kernel_from_torch(w).shape == (4, 3, 2)
    np.testing.assert_array_equal(np.asarray(kernel_to_torch(kernel_from_torch(w))), w)


@pytest.mark.parametrize("groups", [1, 2])
def test_kernel_from_torch_transposed_reproduces_torch_conv_transpose2d(groups):
    x, w = _rand(6, 2, 4, 3, 5), _rand(7, 4, 6 // groups, 3, 2)  # ConvTranspose2d(4 -> 6)
    want = _torch_conv_transpose2d(x, w, stride=2, padding=1, groups=groups)
    k = kernel_from_torch(w, transposed=True, groups=groups)
    got = conv_transpose2d(to_channels_last(x), k, stride=2, padding=1, groups=groups)
    np.testing.assert_allclose(np.asarray(to_channels_first(got)), want, rtol=1e-5, atol=1e-5)


def test_against_torch_when_available():
    torch = pytest.importorskip("torch")
    x, w = _rand(8, 2, 4, 6, 6), _rand(9, 6, 2, 3, 3)
    want = torch.nn.functional.conv2d(torch.from_numpy(x), torch.from_numpy(w), groups=2).numpy()
    got = to_channels_first(conv2d(to_channels_last(x), kernel_from_torch(w), groups=2))
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-4, atol=1e-4)


def test_layout_errors():
    with pytest.raises(ValueError, match=r"to_channels_last: x must have rank 3 or 4 unless "
                       r"spatial_dims is given, got shape \(2, 3\)"):  # fmt: skip
        to_channels_last(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"to_channels_first: x must have rank 5 \(spatial_dims"):
        to_channels_first(np.zeros((2, 3, 4, 5)), spatial_dims=3)
    with pytest.raises(TypeError, match=r"to_channels_last: spatial_dims must be an int"):
        to_channels_last(np.zeros((2, 3, 4)), spatial_dims=1.0)
    with pytest.raises(ValueError, match=r"to_channels_last: spatial_dims must be positive"):
        to_channels_last(np.zeros((2, 3)), spatial_dims=0)
    with pytest.raises(TypeError, match=r"to_channels_last: x must be an array, got list"):
        to_channels_last([[1.0]])
    with pytest.raises(ValueError, match=r"kernel_from_torch: w must have rank 3 or 4 \(O, I"):
        kernel_from_torch(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"kernel_from_torch: groups must divide the input "
                       r"channels C_a \(w.shape\[0\] = 3\), got 2"):  # fmt: skip
        kernel_from_torch(np.zeros((3, 2, 3, 3)), transposed=True, groups=2)
    with pytest.raises(ValueError, match=r"kernel_from_torch: groups must divide the output"):
        kernel_from_torch(np.zeros((3, 2, 3, 3)), groups=2)
    with pytest.raises(TypeError, match=r"kernel_from_torch: groups must be an int"):
        kernel_from_torch(np.zeros((4, 2, 3, 3)), groups=2.0)
    with pytest.raises(ValueError, match=r"kernel_to_torch: kernel must have rank 3 or 4"):
        kernel_to_torch(np.zeros((3,)))
