"""Run one script on many processes: ``jax.distributed`` set up, then the script, unchanged.

Usage::

    # N local processes on this machine (CPU: one device each, gloo collectives)
    python -m jaxcnn.train.launch --processes 2 jaxcnn.experiments.images --quick

    # one process of a multi-host job, explicit coordinator (run once per host, id 0..N-1)
    python -m jaxcnn.train.launch --coordinator HOST0:1234 --processes N --process-id I \\
        jaxcnn.experiments.images

    # under SLURM (srun starts one task per host; JAX reads the job's variables) or on a TPU pod
    srun python -m jaxcnn.train.launch --cluster jaxcnn.experiments.images

Each process calls ``jax.distributed.initialize`` and then runs ``MODULE`` as ``__main__``
with ``ARGS``: `fit` shards every batch over all processes' devices, each process feeds its
own share, and only process 0 writes files (`jaxcnn.train.processes`). With ``--processes``
and no ``--process-id`` this command is the parent: it starts the N processes on 127.0.0.1,
waits for all, and exits with the first non-zero status (0 if all succeeded).
"""

from __future__ import annotations

import argparse
import os
import runpy
import socket
import subprocess
import sys


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a local coordinator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(module: str, args: list[str], processes: int, *, port: int | None = None) -> int:
    """Start ``processes`` local processes of ``module`` (coordinator on 127.0.0.1), wait.

    Returns:
      0 if every process exited with 0, else the first non-zero exit status.

    Raises:
      ValueError: ``processes`` < 1.
    """
    if not isinstance(processes, int) or processes < 1:
        raise ValueError(f"spawn: processes must be an int >= 1, got {processes!r}")
    address = f"127.0.0.1:{port or free_port()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jaxcnn.train.launch",
                "--coordinator",
                address,
                "--processes",
                str(processes),
                "--process-id",
                str(i),
                module,
                *args,
            ]
        )  # fmt: skip
        for i in range(processes)
    ]
    codes = [p.wait() for p in procs]
    return next((c for c in codes if c != 0), 0)


def initialize(coordinator: str | None, processes: int | None, process_id: int | None) -> None:
    """``jax.distributed.initialize`` for this process (all None: detect SLURM / TPU pod).

    On a CPU-only machine the processes talk through gloo collectives. This configures the
    process it runs in: call it first thing in a process started for this purpose.
    """
    import jax

    if "cuda" not in os.environ.get("JAX_PLATFORMS", "") and _cpu_only():
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator, processes, process_id)


def _cpu_only() -> bool:
    # Without touching the backend (initialize must come first): an accelerator plugin?
    import importlib.util

    return not any(
        importlib.util.find_spec(m) is not None
        for m in ("jax_cuda12_plugin", "jax_cuda13_plugin", "libtpu", "jax_rocm60_plugin")
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=None, help="total process count N")
    parser.add_argument("--process-id", type=int, default=None, help="this process, 0..N-1")
    parser.add_argument("--coordinator", default=None, help="HOST:PORT of process 0")
    parser.add_argument("--port", type=int, default=None, help="local coordinator port")
    parser.add_argument(
        "--cluster", action="store_true", help="detect the job (SLURM, TPU pod) instead"
    )
    parser.add_argument("module", help="the script to run, e.g. jaxcnn.experiments.images")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    a = parser.parse_args(argv)
    if a.cluster:
        initialize(None, None, None)
    elif a.process_id is None:
        if a.processes is None:
            parser.error("--processes N is required (or --cluster)")
        return spawn(a.module, a.args, a.processes, port=a.port)
    else:
        if a.processes is None or a.coordinator is None:
            parser.error("--process-id needs --processes and --coordinator")
        initialize(a.coordinator, a.processes, a.process_id)
    sys.argv = [a.module, *a.args]
    runpy.run_module(a.module, run_name="__main__", alter_sys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
