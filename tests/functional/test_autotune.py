"""The CPU lowering tuner: measures once, caches on disk, survives bad cache files."""

import json
import math
import os

import jax
import numpy as np
import pytest
from jax import lax

from jaxcnn import config
from jaxcnn._cpu import autotune, engine
from jaxcnn._cpu.rule import fallback_lowering
from jaxcnn.functional import conv2d

MACHINE = {"cpu": "Test CPU 9000", "cores": 2, "jax": jax.__version__}


def _counting(times):
    calls = []

    def time_one(name):
        calls.append(name)
        return times[name]

    return time_one, calls


def test_pick_measures_each_candidate_once_then_reads_the_cache_back(tmp_path):
    path = tmp_path / "c.json"
    time_one, calls = _counting({"lax": 3.0, "rows": 1.0, "lanes": 2.0})
    cache = autotune.TuningCache(path, MACHINE)
    assert autotune.pick("k1", ("lax", "rows", "lanes"), time_one, cache) == "rows"
    assert sorted(calls) == ["lanes", "lax", "rows"]
    body = json.loads(path.read_text())
    assert body["schema"] == autotune.SCHEMA and body["machine"] == MACHINE
    assert body["choices"]["k1"] == {
        "lowering": "rows",
        "ms": {"lax": 3e3, "rows": 1e3, "lanes": 2e3},
    }
    # The same process, and a fresh one reading the file: no second measurement.
    assert autotune.pick("k1", ("lax", "rows", "lanes"), time_one, cache) == "rows"
    fresh = autotune.TuningCache(path, MACHINE)
    assert autotune.pick("k1", ("lax", "rows", "lanes"), time_one, fresh) == "rows"
    assert len(calls) == 3
    # A cached choice that is no longer a candidate is measured again.
    assert autotune.pick("k1", ("lax", "lanes"), time_one, fresh) == "lanes"
    assert len(calls) == 5


def test_a_failed_candidate_is_never_picked(tmp_path):
    time_one, _ = _counting({"lax": 2.0, "patches": math.inf})
    cache = autotune.TuningCache(tmp_path / "c.json", MACHINE)
    assert autotune.pick("k", ("patches", "lax"), time_one, cache) == "lax"
    assert json.loads(cache.path.read_text())["choices"]["k"]["ms"]["patches"] is None


@pytest.mark.parametrize(
    "content, warning",
    [
        ("{not json", "corrupt"),
        ('["a list"]', "malformed"),
        (json.dumps({"schema": 999, "machine": MACHINE, "choices": {}}), "schema 999"),
        (
            json.dumps(
                {
                    "schema": autotune.SCHEMA,
                    "machine": {**MACHINE, "cpu": "Other CPU"},
                    "choices": {"k": {"lowering": "lanes"}},
                }
            ),
            "made for",
        ),
    ],
    ids=["corrupt", "malformed", "other-schema", "other-machine"],
)
def test_a_bad_cache_file_is_ignored_with_a_warning_and_replaced(tmp_path, content, warning):
    path = tmp_path / "c.json"
    path.write_text(content)
    time_one, calls = _counting({"lax": 1.0, "lanes": 2.0})
    with pytest.warns(UserWarning, match=warning):
        got = autotune.pick("k", ("lax", "lanes"), time_one, autotune.TuningCache(path, MACHINE))
    assert got == "lax" and len(calls) == 2  # measured: the foreign "lanes" was not trusted
    body = json.loads(path.read_text())  # rewritten whole, for this machine
    assert body["machine"] == MACHINE and body["choices"]["k"]["lowering"] == "lax"


def test_a_failed_write_warns_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "c.json"
    cache = autotune.TuningCache(path, MACHINE)
    cache.put("a", "lax", {"lax": 1.0})
    before = path.read_text()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.warns(UserWarning, match="could not write"):
        cache.put("b", "rows", {"rows": 1.0})
    assert path.read_text() == before  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]  # no temporary left behind
    assert cache.get("b") == "rows"  # kept in memory for the process


def test_the_tuner_runs_on_a_tiny_convolution_and_caches_it_per_machine(tmp_path, monkeypatch):
    """End to end: conv2d on the CPU with the tuner on times real candidates once."""
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))
    autotune.forget_memory()
    timed = []
    real = autotune.time_conv
    monkeypatch.setattr(autotune, "time_conv", lambda *a: timed.append(a[1:]) or real(*a))
    x = np.random.default_rng(0).standard_normal((2, 6, 7, 2)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((3, 3, 2, 3)).astype(np.float32)
    want = lax.conv_general_dilated(
        x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    with config.autotune(True):
        got = jax.jit(lambda x, k: conv2d(x, k))(x, k)
        assert len(timed) == 4  # lax, patches, rows, lanes: all can take it
        path = autotune.cache_path()
        assert path.parent == tmp_path / "autotune" and path.exists()
        body = json.loads(path.read_text())
        assert body["machine"] == autotune.machine_key()
        (entry,) = body["choices"].values()
        assert entry["lowering"] in ("lax", "patches", "rows", "lanes")
        autotune.forget_memory()  # as a new process: the file answers, nothing is timed
        again = jax.jit(lambda x, k: conv2d(x, k) * 1.0)(x, k)
        assert len(timed) == 4
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)
    np.testing.assert_allclose(np.asarray(again), np.asarray(want), rtol=2e-5, atol=2e-5)
    autotune.forget_memory()


def test_autotune_setting_and_environment(monkeypatch):
    monkeypatch.delenv(config.AUTOTUNE_ENV, raising=False)
    with config.autotune(True):
        assert config.autotune_enabled()
        with config.autotune(False):
            assert not config.autotune_enabled()
    monkeypatch.setenv(config.AUTOTUNE_ENV, "0")
    with config.autotune(True):  # the scoped setting wins over the environment
        assert config.autotune_enabled()
    with pytest.raises(TypeError, match="autotune: enabled must be a bool, got str"):
        with config.autotune("yes"):
            pass


def test_with_the_tuner_off_nothing_is_timed(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))
    monkeypatch.setattr(autotune, "time_conv", lambda *a: pytest.fail("timed with the tuner off"))
    x, k = np.ones((1, 5, 5, 2), np.float32), np.ones((3, 3, 2, 2), np.float32)
    conv2d(x, k)  # the test-wide default: autotune(False)
    assert not (tmp_path / "autotune").exists()


def test_a_batch_of_one_takes_the_rule_without_timing(tmp_path, monkeypatch):
    # init, shape inference and FLOP counting trace at batch 1: timing those shapes would
    # compile every candidate for programs that run once.
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))
    autotune.forget_memory()
    monkeypatch.setattr(autotune, "time_conv", lambda *a: pytest.fail("timed a batch of one"))
    x = np.random.default_rng(0).standard_normal((1, 6, 7, 2)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((3, 3, 2, 3)).astype(np.float32)
    want = lax.conv_general_dilated(
        x, k, (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC")
    )
    with config.autotune(True), engine.record_choices() as seen:
        got = jax.jit(conv2d)(x, k)
    assert [c["how"] for c in seen] == ["rule"]
    assert seen[0]["lowering"] == fallback_lowering(x.shape, k.shape, (1, 1), 1)
    assert not (tmp_path / "autotune").exists()
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-5, atol=2e-5)
    autotune.forget_memory()
