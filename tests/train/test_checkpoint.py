"""Checkpoints: SIGKILL + resume is bit-identical, corrupt ones are skipped, 4 devices == 1."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from jaxcnn.train import TrainConfig, fit
from jaxcnn.train.checkpoint import (
    MANIFEST,
    TRASH,
    Checkpointer,
    CorruptCheckpointWarning,
    _check_manifest,
    leaves_equal,
)
from tests.train import run_digits
from tests.train.helpers import MLP, digit_sets

ROOT = Path(__file__).resolve().parents[2]
STEPS_PER_EPOCH = 1400 // run_digits.CONFIG.batch_size


def _child(out, *args, env=None):
    cmd = [sys.executable, "-m", "tests.train.run_digits", str(out), *args]
    return subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, text=True
    )


@pytest.fixture(scope="module")
def references():
    """The references: the same runs, in this process, never interrupted, one device."""
    cache = {}

    def get(model="mlp"):
        if model not in cache:
            cache[model] = run_digits.run(run_digits.CONFIG.epochs, model=model)
        return cache[model]

    return get


@pytest.fixture(scope="module")
def uninterrupted(references):
    return references("mlp")


# mlp and cnn: whole lax.scan chunks (the cnn's convolutions canonicalised for XLA CPU's loops).
@pytest.mark.slow  # three processes per model, about 60 s of CPU each
@pytest.mark.parametrize("model", ["mlp", "cnn"])
def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path, references, model):
    uninterrupted = references(model)
    workdir, out = tmp_path / "w", tmp_path / "out.npz"
    child = _child(out, "--workdir", str(workdir), "--model", model)
    try:
        _kill_after_a_mid_epoch_checkpoint(child, workdir / "checkpoints")
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    assert not out.exists()

    resumed = _child(out, "--workdir", str(workdir), "--model", model)
    assert resumed.wait(timeout=300) == 0
    got = dict(np.load(out))
    assert got.keys() == uninterrupted.keys()
    for k in got:
        np.testing.assert_array_equal(got[k], uninterrupted[k], err_msg=k)
        assert got[k].tobytes() == uninterrupted[k].tobytes(), k  # bit for bit


def _kill_after_a_mid_epoch_checkpoint(child, ckpts):
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and child.poll() is None:
        steps = [int(p.name) for p in ckpts.glob("*") if p.name.isdigit()]
        if any(s > STEPS_PER_EPOCH and s % STEPS_PER_EPOCH for s in steps):
            break  # a mid-epoch checkpoint after the first epoch exists
        time.sleep(0.01)
    time.sleep(np.random.default_rng().uniform(0, 0.2))  # any moment, even mid-save
    child.send_signal(signal.SIGKILL)
    child.wait()


@pytest.mark.slow  # a second process with 4 forced CPU devices
def test_four_devices_match_one_device(tmp_path, uninterrupted):
    out = tmp_path / "out4.npz"
    child = _child(
        out, "--bad-batch", env={"XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    )
    stdout, _ = child.communicate(timeout=300)
    assert child.returncode == 0
    assert "fit: batch_size must be divisible by the device count 4, got 30" in stdout
    got = dict(np.load(out))
    for k in got:
        np.testing.assert_allclose(got[k], uninterrupted[k], rtol=1e-4, atol=1e-5, err_msg=k)


def test_corrupt_checkpoint_is_skipped_with_a_warning(tmp_path):
    train, _ = digit_sets(n_train=256)
    cfg = TrainConfig(epochs=3, batch_size=64, keep_last=3)
    first = fit(MLP(hidden=8), train, None, cfg, workdir=tmp_path).variables
    ckpt = Checkpointer(tmp_path / "checkpoints", keep_last=3)
    assert ckpt.steps() == [4, 8, 12]
    # Truncate the largest data file of the newest checkpoint; drop the middle one's manifest.
    files = [p for p in (tmp_path / "checkpoints" / "12").rglob("*") if p.is_file()]
    victim = max((p for p in files if p.name != MANIFEST), key=lambda p: p.stat().st_size)
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    (tmp_path / "checkpoints" / "8" / MANIFEST).unlink()

    with pytest.warns(CorruptCheckpointWarning) as record:
        resumed = fit(MLP(hidden=8), train, None, cfg, workdir=tmp_path)
    messages = [str(w.message) for w in record]
    assert any("12 is corrupt" in m and "checksum" in m for m in messages)
    assert any("8 is partial (no manifest)" in m for m in messages)
    # It fell back to step 4, trained epochs 2 and 3 again, and ended where the first run did.
    assert [h["epoch"] for h in resumed.history] == [1, 2, 3]
    assert leaves_equal(resumed.variables, first)


@pytest.mark.parametrize("mode, best", [("max", 8), ("min", 16)])
def test_the_best_checkpoint_survives_reopening_the_folder(tmp_path, mode, best, caplog):
    # Before: orbax kept the metrics in memory only, so a resumed run's first save deleted
    # the best checkpoint (BestCheckpoint then failed: "checkpoint .../8 ... is missing").
    state = {"w": np.arange(3, dtype=np.float32)}
    ckpt = Checkpointer(tmp_path, keep_last=2, best_mode=mode)
    for step, metric in [(3, None), (8, 5.0), (11, None), (16, 1.0), (19, None)]:
        ckpt.save(step, state, {}, metric=metric)
    assert ckpt.steps() == sorted({best, 16, 19})
    reopened = Checkpointer(tmp_path, keep_last=2, best_mode=mode)
    for step, metric in [(22, None), (24, 3.0), (27, None)]:
        reopened.save(step, state, {}, metric=metric)
    assert reopened.steps() == [best, 24, 27]
    assert leaves_equal(reopened.restore_step(best, state), state)
    assert "did not provide metrics" not in caplog.text  # mid-epoch saves have none, by design


@pytest.mark.parametrize(
    "keep_last, exc, match",
    [
        (0, ValueError, "Checkpointer: keep_last must be a positive int, got 0"),
        (-1, ValueError, "Checkpointer: keep_last must be a positive int, got -1"),
        (1.5, TypeError, "Checkpointer: keep_last must be a positive int, got float 1.5"),
    ],
)
def test_keep_last_must_be_a_positive_int(tmp_path, keep_last, exc, match):
    # -1 and 1.5 failed inside orbax at the first save; 0 kept an arbitrary set of steps.
    with pytest.raises(exc, match=match):
        Checkpointer(tmp_path / "ckpt", keep_last=keep_last)


def test_resuming_another_model_raises_and_keeps_its_checkpoints(tmp_path):
    # Before: the restore failed, every checkpoint was skipped as "corrupt", the run began
    # afresh and its saves deleted the first model's checkpoints (keep_last).
    train, _ = digit_sets(n_train=128)
    cfg = TrainConfig(epochs=2, batch_size=64, keep_last=2)
    fit(MLP(hidden=8), train, None, cfg, workdir=tmp_path)
    before = Checkpointer(tmp_path / "checkpoints").steps()
    with pytest.raises(
        ValueError, match=r"other shapes: .*Dense_0/bias has shape \(8,\) there, .* wants \(16,\)"
    ):
        fit(MLP(hidden=16), train, None, cfg, workdir=tmp_path)
    assert Checkpointer(tmp_path / "checkpoints").steps() == before


def test_renamed_leaves_of_the_same_shapes_are_not_loaded_into_each_other(tmp_path):
    # Before: the leaves were restored by position, so "b"'s values became "c".
    ckpt = Checkpointer(tmp_path)
    ckpt.save(1, {"a": np.ones((3, 4), np.float32), "b": np.zeros(2, np.float32)}, {})
    like = {"a": np.ones((3, 4), np.float32), "c": np.zeros(2, np.float32)}
    with pytest.raises(ValueError, match=r"another structure: .*\['c'\].*\['b'\]"):
        Checkpointer(tmp_path).restore_latest(like)
    same = {"a": np.zeros((3, 4), np.float32), "b": np.ones(2, np.float32)}
    state, _ = Checkpointer(tmp_path).restore_latest(same)
    np.testing.assert_array_equal(state["a"], np.ones((3, 4)))


def _intact(folder: Path) -> list[int]:
    return sorted(
        int(p.name) for p in folder.iterdir() if p.name.isdigit() and _check_manifest(p) is None
    )


def test_old_steps_go_through_the_trash_and_a_kill_before_the_manifest_loses_nothing(
    tmp_path, monkeypatch
):
    # Before: orbax removed an old step file by file, so a SIGKILL mid-deletion left a step with
    # its manifest and missing files; with keep_last=1 a kill between orbax's deletion and the new
    # step's manifest left no intact step at all.
    state = {"w": np.arange(3, dtype=np.float32)}
    ckpt = Checkpointer(tmp_path, keep_last=1)
    ckpt.save(4, state, {})
    ckpt.save(8, state, {})
    assert ckpt.steps() == [8] and not (tmp_path / TRASH).exists()  # deleted, trash emptied
    # The kill: orbax has renamed step 8 into the trash, step 12 never gets its manifest.
    import jaxcnn.train.checkpoint as module

    def killed(path, payload):
        raise KeyboardInterrupt("killed before the manifest")

    monkeypatch.setattr(module, "write_json", killed)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save(12, {"w": state["w"] + 1}, {})
    monkeypatch.undo()
    assert (tmp_path / TRASH / "8" / MANIFEST).is_file() and _intact(tmp_path) == []
    # Every folder with a manifest is whole; the next writer puts step 8 back and resumes from it.
    reopened = Checkpointer(tmp_path, keep_last=1)
    assert not (tmp_path / TRASH).exists() and _intact(tmp_path) == [8]
    with pytest.warns(CorruptCheckpointWarning, match="12 is partial"):
        restored, _ = reopened.restore_latest(state)
    assert leaves_equal(restored, state)
    reopened.save(12, {"w": state["w"] + 1}, {})
    assert reopened.steps() == [12] and _intact(tmp_path) == [12]


def test_a_half_emptied_trash_is_removed_and_a_reader_leaves_it(tmp_path):
    state = {"w": np.arange(3, dtype=np.float32)}
    Checkpointer(tmp_path, keep_last=1).save(4, state, {})
    # A trashed step whose files were half removed (kill mid-emptying) must not come back.
    half = tmp_path / TRASH / "2"
    half.mkdir(parents=True)
    (half / MANIFEST).write_text('{"files": {"state/data": {"size": 3, "sha256": "0"}}}')
    Checkpointer(tmp_path, read_only=True).steps()
    assert half.is_dir()  # a reader changes nothing
    assert Checkpointer(tmp_path, keep_last=1).steps() == [4]
    assert not (tmp_path / TRASH).exists()
