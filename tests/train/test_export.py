"""export / load_exported: a trained CNN reloaded in a fresh process matches `predict`."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxcnn.config
from jaxcnn.train import Dataset, TrainConfig, export, fit, load_exported, predict
from jaxcnn.vision.models import make_model
from tests.train.helpers import digits

# The reload runs in a new interpreter: nothing of the model's Python code or jit cache helps.
CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    from jaxcnn.train import load_exported
    f = load_exported(sys.argv[1])
    x = np.load(sys.argv[2])
    out = {f"b{n}": np.asarray(f(x[:n])) for n in (1, 7, 64)}
    np.savez(sys.argv[3], **out)
    """
)


@pytest.fixture(scope="module")
def trained():
    xt, yt, xe, ye = digits(600)
    model = make_model("cnn", 10)
    result = fit(model, Dataset.from_arrays(xt, yt), None, TrainConfig(epochs=1, batch_size=50))
    return model, result, xe, ye


@pytest.mark.parametrize("lowering", [None, "lax"])  # None: the default lowering
def test_exported_cnn_matches_predict_in_fresh_process(tmp_path, trained, lowering):
    model, result, xe, ye = trained
    scope = contextlib.nullcontext() if lowering is None else jaxcnn.config.lowering(lowering)
    with scope:
        export(model, result.variables, xe[:2], tmp_path / "saved")
    x = xe[:64]
    np.save(tmp_path / "x.npy", x)
    subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "saved"), str(tmp_path / "x.npy"),
         str(tmp_path / "out.npz")],
        check=True, timeout=120,
    )  # fmt: skip
    got = np.load(tmp_path / "out.npz")
    want = predict(model, result.variables, Dataset.from_arrays(x, ye[:64]))
    assert not np.allclose(want[:7], 0)
    for n in (1, 7, 64):
        assert got[f"b{n}"].shape == (n, 10)
        np.testing.assert_allclose(got[f"b{n}"], want[:n], rtol=1e-4, atol=1e-4)


def test_export_writes_no_pickle_and_checks_arguments(tmp_path):
    import jax

    model = make_model("mlp", 3)
    x = np.zeros((2, 4, 4, 1), np.float32)
    variables = model.init(jax.random.key(0), x)
    export(model, variables, x, tmp_path / "m")
    names = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert names == ["export.json", "model.jaxexport", "variables.msgpack"]
    assert load_exported(tmp_path / "m")(np.ones((5, 4, 4, 1), np.float32)).shape == (5, 3)
    with pytest.raises(TypeError, match="example_x"):
        export(model, variables, [1.0], tmp_path / "m")
    with pytest.raises(FileNotFoundError, match="variables.msgpack"):
        (tmp_path / "m" / "variables.msgpack").unlink()
        load_exported(tmp_path / "m")
