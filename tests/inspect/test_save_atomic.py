"""The inspect PNG writers are atomic: a save that dies half-way leaves the old file intact."""

import matplotlib.figure
import numpy as np
import pytest

from jaxcnn.inspect import save_activation_maps, save_filter_grid, save_receptive_field

WRITERS = {
    "filters": lambda path: save_filter_grid(np.ones((3, 3, 1, 4)), path),
    "activations": lambda path: save_activation_maps({"conv": np.ones((1, 4, 4, 2))}, path),
    "receptive": lambda path: save_receptive_field(np.ones((6, 6, 1)), (1, 3), (2, 4), path),
}


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_a_failed_save_keeps_the_old_file(tmp_path, monkeypatch, name):
    path = tmp_path / "out.png"
    WRITERS[name](path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    path.write_bytes(b"old")

    def dies_half_way(self, fname, *args, **kwargs):  # a kill or a full disk mid-write
        with open(fname, "wb") as f:
            f.write(b"\x89PNG partial")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", dies_half_way)
    with pytest.raises(OSError, match="disk full"):
        WRITERS[name](path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]  # no temp file left behind


def test_format_follows_the_extension(tmp_path):
    save_filter_grid(np.ones((3, 3, 1, 4)), tmp_path / "f.svg")
    assert b"<svg" in (tmp_path / "f.svg").read_bytes()[:500]
    save_filter_grid(np.ones((3, 3, 1, 4)), tmp_path / "noext")
    assert (tmp_path / "noext.png").read_bytes()[:4] == b"\x89PNG"  # as savefig does
