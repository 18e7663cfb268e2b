"""Every example of docs/training.md's "Many processes", "Mixed precision" and "Export" runs."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "training.md"


def blocks(section: str, lang: str) -> list[str]:
    text = DOC.read_text()
    start = text.index(section)
    end = text.index("\n## ", start + len(section))
    return re.findall(rf"```{lang}\n(.*?)```", text[start:end], flags=re.S)


def test_mixed_precision_and_export_snippets_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = blocks("## Mixed precision", "python") + blocks("## Export for serving", "python")
    assert len(code) == 3
    namespace: dict = {}
    for i, block in enumerate(code):
        exec(compile(block, f"docs/training.md scale snippet {i + 1}", "exec"), namespace)  # noqa: S102
    assert (tmp_path / "saved_cnn" / "model.jaxexport").is_file()
    saved = json.loads((tmp_path / "saved_cnn_cpu_gpu" / "export.json").read_text())
    assert saved["platforms"] == ["cpu", "cuda"]
    print("bf16 digits accuracy", namespace["result"].eval["accuracy"])


class _Stop(Exception):
    pass


def test_mixed_precision_command_sets_the_config(monkeypatch):
    # The command's flags as the script reads them (its training: the slow test below).
    from jaxcnn.experiments import images

    (line,) = blocks("## Mixed precision", "bash")
    seen = {}

    def run(config, workdir, **kwargs):
        seen.update(config=config, workdir=workdir)
        raise _Stop

    monkeypatch.setattr(images, "run", run)
    with pytest.raises(_Stop):
        images.main(_argv(line)[3:])  # after "python -m jaxcnn.experiments.images"
    assert _argv(line)[1:3] == ["-m", "jaxcnn.experiments.images"]
    config = seen["config"]
    assert (config.compute_dtype, config.models, seen["workdir"]) == (
        "bfloat16",
        ("mlp",),
        "runs/bf16",
    )
    assert config == dataclasses.replace(images.get_config(quick=True), compute_dtype="bfloat16",
                                         models=("mlp",))  # fmt: skip


@pytest.mark.slow
def test_mixed_precision_command_runs(tmp_path):
    (line,) = blocks("## Mixed precision", "bash")
    subprocess.run(_argv(line), cwd=tmp_path, check=True, timeout=600)
    _check(tmp_path / "runs/bf16")
    summary = json.loads((tmp_path / "runs/bf16/results.json").read_text())
    assert summary["config"]["compute_dtype"] == "bfloat16"


def _argv(line: str) -> list[str]:
    words = line.split()
    return [sys.executable, *words[words.index("python") + 1 :]]


def _port_in(low: int, high: int) -> int:
    for _ in range(100):
        port = random.randint(low, high)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


def _check(workdir: Path):
    summary = json.loads((workdir / "results.json").read_text())
    assert summary["rows"][0]["model"] == "mlp"
    assert summary["rows"][0]["test_accuracy"] > 0.8


def _wait(procs):
    assert [p.wait(timeout=600) for p in procs] == [0] * len(procs)


@pytest.mark.slow
def test_multi_process_examples_run(tmp_path):
    local, explicit, slurm = blocks("## Many processes", "bash")
    # One machine: the launcher starts both processes.
    subprocess.run(_argv(local), cwd=tmp_path, check=True, timeout=600)
    _check(tmp_path / "runs/mp")
    # The launcher exits non-zero when its processes fail (here: an unknown model name).
    failing = local.replace("--models mlp", "--models no_such_model")
    assert subprocess.run(_argv(failing), cwd=tmp_path, timeout=600).returncode != 0
    # Explicit coordinator: HOST0 is this machine, ID 0 and 1.
    port = _port_in(20000, 30000)
    line = explicit.replace("HOST0:12345", f"127.0.0.1:{port}")
    _wait([
        subprocess.Popen(_argv(line.replace("$ID", str(i))), cwd=tmp_path) for i in (0, 1)
    ])  # fmt: skip
    _check(tmp_path / "runs/mh")
    # SLURM: the variables a two-task job sets, on 127.0.0.1; a small workdir of our own.
    port = _port_in(65536 - 4096, 65535)
    line = slurm.replace("/shared/runs/images", "runs/slurm") + " --quick --models mlp"
    env = {**os.environ, "SLURM_JOB_ID": str(port - (65536 - 4096)), "SLURM_NTASKS": "2",
           "SLURM_STEP_NODELIST": "127.0.0.1", "SLURM_STEP_NUM_NODES": "1"}  # fmt: skip
    _wait([
        subprocess.Popen(_argv(line), cwd=tmp_path,
                         env={**env, "SLURM_PROCID": str(i), "SLURM_LOCALID": str(i)})
        for i in (0, 1)
    ])  # fmt: skip
    _check(tmp_path / "runs/slurm")
