"""experiments.edges (quick): only the 5x5 generated boxes fire; photos load offline."""

import json

from jaxcnn.experiments import edges


def test_edges_quick(tmp_path):
    summary = edges.run(edges.get_config(quick=True), str(tmp_path))
    fired = {int(k): v["fired"] for k, v in summary["synthetic"].items()}
    boxes = {int(k): v["boxes"] for k, v in summary["synthetic"].items()}
    assert fired == {3: 0, 4: 0, 5: boxes[5], 6: 0, 7: 0}
    assert summary["photos"]["coins"]["l1_over_l2"] >= 1.0  # |a|+|b| >= sqrt(a^2+b^2)
    board = summary["photos"]["checkerboard_5px"]
    assert board["max_abs_score"] == round(16 / 18, 4)
    assert board["boxes_fired_threshold_0.85"] == board["interior_squares"] == 36
    assert json.loads((tmp_path / "results.json").read_text())["synthetic"] == summary["synthetic"]
