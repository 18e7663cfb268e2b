"""experiments.edges (quick): only the 5x5 generated boxes fire; photos load offline."""

import json

import numpy as np
import pytest
from jaxcnn.experiments import edges
from scipy import ndimage

from tests.strict_json import assert_strict_json_files


def test_edges_quick(tmp_path):
    summary = edges.run(edges.get_config(quick=True), str(tmp_path))
    fired = {int(k): v["fired"] for k, v in summary["synthetic"].items()}
    boxes = {int(k): v["boxes"] for k, v in summary["synthetic"].items()}
    assert fired == {3: 0, 4: 0, 5: boxes[5], 6: 0, 7: 0}
    # Against an independent reference (scipy's Sobel, replicated border), not the triangle
    # inequality |a|+|b| >= sqrt(a^2+b^2), which any pair of arrays satisfies. The ratio does
    # not depend on the kernels' scale.
    config = edges.get_config(quick=True)
    photo = edges.load_photo("coins", config.max_side).astype(np.float64)
    h, v = ndimage.sobel(photo, 0, mode="nearest"), ndimage.sobel(photo, 1, mode="nearest")
    ratio = (np.abs(h) + np.abs(v)).sum() / np.hypot(h, v).sum()
    coins = summary["photos"]["coins"]
    assert coins["l1_over_l2"] == pytest.approx(ratio, abs=2e-4)
    assert coins["mean_l1"] / coins["mean_l2"] == pytest.approx(ratio, abs=2e-3)
    board = summary["photos"]["checkerboard_5px"]
    assert board["max_abs_score"] == round(16 / 18, 4)
    assert board["boxes_fired_threshold_0.85"] == board["interior_squares"] == 36
    assert json.loads((tmp_path / "results.json").read_text())["synthetic"] == summary["synthetic"]
    assert_strict_json_files(tmp_path)
