"""Sobel edges and the notes' box detector against a naive NumPy loop and generated boxes."""

import jax.numpy as jnp
import numpy as np
import pytest

from jaxcnn.vision import kernels


def _correlate_same(image, kernel):
    """Naive zero-padded cross-correlation, output centred on its input pixel."""
    k = kernel.shape[0]
    p = k // 2
    padded = np.pad(image, p)
    out = np.zeros_like(image, dtype=np.float64)
    for i in range(image.shape[0]):
        for j in range(image.shape[1]):
            out[i, j] = np.sum(padded[i : i + k, j : j + k] * kernel)
    return out


def test_sobel_matches_naive_loop_and_notes_kernels():
    rng = np.random.default_rng(0)
    image = rng.random((9, 11)).astype(np.float32)
    edges = np.asarray(kernels.sobel_edges(jnp.asarray(image)[None, :, :, None]))[0]
    h = _correlate_same(image, np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]))
    v = _correlate_same(image, np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]))
    np.testing.assert_allclose(edges[..., 0], h, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(edges[..., 1], v, rtol=1e-5, atol=1e-5)
    l2 = np.asarray(kernels.edge_magnitude(jnp.asarray(edges)[None], "l2"))[0, ..., 0]
    l1 = np.asarray(kernels.edge_magnitude(jnp.asarray(edges)[None], "l1"))[0, ..., 0]
    np.testing.assert_allclose(l2, np.sqrt(h**2 + v**2), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(l1, np.abs(h) + np.abs(v), rtol=1e-5, atol=1e-5)


def test_unit_box_response_is_72():
    image = np.zeros((15, 15))
    image[5:10, 5:10] = 1.0
    h = _correlate_same(image, kernels.SOBEL_H)
    v = _correlate_same(image, kernels.SOBEL_V)
    response = _correlate_same(h, kernels.BOX_H) + _correlate_same(v, kernels.BOX_V)
    assert response.max() == kernels.UNIT_BOX_RESPONSE == response[7, 7]


def _boxes_image(sizes, contrast=1.0):
    image = np.zeros((24, 20 * len(sizes)), np.float32)
    corners = []
    for i, s in enumerate(sizes):
        r, c = 6, 20 * i + 6
        image[r : r + s, c : c + s] = contrast
        corners.append((r, c, s))
    return image, corners


@pytest.mark.parametrize("contrast", [1.0, -0.5])
def test_detector_fires_on_5x5_boxes_only(contrast):
    image, corners = _boxes_image([3, 5, 7, 5, 4, 6], contrast)
    image += 2.0  # an offset must not matter: only edges count
    fired = np.asarray(kernels.detect_boxes(jnp.asarray(image)[None, :, :, None]))[0]
    want = {(r + 2, c + 2) for r, c, s in corners if s == 5}
    assert {tuple(p) for p in np.argwhere(fired)} == want
    score = np.asarray(kernels.box_score(jnp.asarray(image)[None, :, :, None]))[0, ..., 0]
    for r, c, s in corners:  # the best score anywhere near each box, relative to contrast
        best = np.abs(score[r - 3 : r + s + 3, c - 3 : c + s + 3]).max() / abs(contrast)
        # By hand: 3x3 -> 48/72, 4x4 -> 60/72, 6x6 and 7x7 -> 38/72 (sides never 4 apart).
        assert best == pytest.approx({3: 2 / 3, 5: 1.0, 7: 38 / 72, 4: 5 / 6, 6: 38 / 72}[s])


def test_bad_input():
    with pytest.raises(ValueError, match=r"sobel_edges: images must have 1 channel \(grayscale\)"):
        kernels.sobel_edges(jnp.zeros((1, 5, 5, 3)))
    with pytest.raises(TypeError, match="sobel_edges: images must have a floating dtype"):
        kernels.sobel_edges(jnp.zeros((1, 5, 5, 1), jnp.int32))
    with pytest.raises(ValueError, match=r"box_response: edges must have 2 channels \(H, V\)"):
        kernels.box_response(jnp.zeros((1, 5, 5, 1)))
    with pytest.raises(ValueError, match=r"edge_magnitude: kind must be one of \['L1', 'L2'\]"):
        kernels.edge_magnitude(jnp.zeros((1, 5, 5, 2)), "l3")
    with pytest.raises(ValueError, match=r"detect_boxes: threshold must be in \(0, 1\]"):
        kernels.detect_boxes(jnp.zeros((1, 5, 5, 1)), 1.5)
    with pytest.raises(ValueError, match=r"detect_boxes: images must have 1 channel"):
        kernels.detect_boxes(jnp.zeros((1, 5, 5, 3)))


def test_detect_boxes_contrast_shape():
    # A contrast of the wrong length reached jnp.broadcast_to ("Incompatible types ...").
    images = jnp.zeros((2, 9, 9, 1))
    with pytest.raises(
        ValueError,
        match=r"detect_boxes: contrast must be a scalar or have shape \(2,\), got shape \(3,\)",
    ):
        kernels.detect_boxes(images, contrast=jnp.ones(3))
    with pytest.raises(ValueError, match=r"got shape \(2, 1\)"):
        kernels.detect_boxes(images, contrast=np.ones((2, 1)))
    assert kernels.detect_boxes(images, contrast=np.ones(2)).shape == (2, 9, 9)
    assert kernels.detect_boxes(images, contrast=0.5).shape == (2, 9, 9)


def test_edge_border_has_no_frame():
    image = jnp.full((1, 6, 7, 1), 3.0)
    assert float(jnp.abs(kernels.sobel_edges(image, "edge")).max()) == 0.0
    zero = np.asarray(kernels.sobel_edges(image, "zero"))
    assert zero[0, 0, 3, 0] == -3.0 * 4  # the notes' zero padding: a top edge along the frame
    with pytest.raises(ValueError, match=r"sobel_edges: border must be one of \['ZERO', 'EDGE'\]"):
        kernels.sobel_edges(image, "wrap")
