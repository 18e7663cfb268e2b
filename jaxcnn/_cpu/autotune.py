"""The CPU lowering tuner: time each candidate once per machine, remember the fastest on disk.

Like cuDNN's benchmark mode or XLA's GPU autotuner: the first time ``"auto"`` meets a
convolution (shapes, dtype, strides, dilations, padding, groups) on a machine, it compiles each
lowering that can take it, times forward plus both gradients (input and kernel) on the CPU for a
bounded time (:data:`BUDGET_S` each, at most :data:`MAX_REPEATS` runs, the minimum counts), and
picks the fastest (a batch of one, the shape of ``init`` and shape inference, takes the
fallback rule instead: `jaxcnn._cpu.engine`). The choice is kept in memory for the process
and in one JSON file per machine under ``jaxcnn.paths.data_home("autotune")``, named and keyed
by the CPU model, the number of cores this process may use and the jax version: another CPU,
core count or jax release measures again. The file carries :data:`SCHEMA`; a file that cannot
be read, is not valid JSON, has another schema or another machine's key is ignored with a
warning (and replaced at the next write), never an error. Writes are atomic (a temporary
file, then ``os.replace``).

The tuner runs in Python while a function is traced (the choice decides what is traced), so
each candidate is its own ``jax.jit`` computation on concrete arrays, run under
``jax.ensure_compile_time_eval`` so that nothing of it enters the traced computation.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import platform
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import jax
import numpy as np

from jaxcnn import _durable
from jaxcnn.paths import data_home

#: Version of the cache file's layout; a file with another one is ignored.
SCHEMA = 1
#: Seconds of timed runs per candidate (after its compilation and one warm-up run).
BUDGET_S = 0.3
#: At most this many timed runs per candidate.
MAX_REPEATS = 7

_LOCK = threading.RLock()
_CACHES: dict[Path, TuningCache] = {}


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``'s ``model name`` on Linux, else ``platform``)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def core_count() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def machine_key() -> dict:
    """What a cached choice is valid for: ``{"cpu", "cores", "jax"}``."""
    return {"cpu": cpu_model(), "cores": core_count(), "jax": jax.__version__}


def cache_path(machine: dict | None = None) -> Path:
    """This machine's cache file: ``data_home("autotune") / "conv-<hash of the key>.json"``."""
    machine = machine_key() if machine is None else machine
    digest = hashlib.sha256(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:16]
    return data_home("autotune") / f"conv-{digest}.json"


class TuningCache:
    """The choices of one machine: in memory, backed by one JSON file (read once, lazily)."""

    def __init__(self, path: Path, machine: dict) -> None:
        self.path, self.machine = Path(path), machine
        self._choices: dict[str, dict] | None = None

    def _load(self) -> dict[str, dict]:
        if self._choices is None:
            self._choices = _read(self.path, self.machine)
        return self._choices

    def get(self, key: str) -> str | None:
        """The lowering chosen for ``key``, or ``None`` if it was never measured here."""
        entry = self._load().get(key)
        return entry.get("lowering") if isinstance(entry, dict) else None

    def seconds(self, key: str, lowering: str) -> float | None:
        """The measured seconds of ``lowering`` for ``key``, or ``None`` if never measured."""
        entry = self._load().get(key)
        ms = entry.get("ms") if isinstance(entry, dict) else None
        value = ms.get(lowering) if isinstance(ms, dict) else None
        return value / 1e3 if isinstance(value, int | float) else None

    def put(self, key: str, lowering: str, seconds: dict[str, float]) -> None:
        """Remember ``lowering`` (and every candidate's time) for ``key``; write the file.

        A write that fails (a read-only folder, a full disk) warns and keeps the choice in
        memory for this process.
        """
        choices = self._load()
        ms = {k: (round(v * 1e3, 4) if math.isfinite(v) else None) for k, v in seconds.items()}
        choices[key] = {"lowering": lowering, "ms": ms}
        body = {"schema": SCHEMA, "machine": self.machine, "choices": choices}
        try:
            _durable.write_text(self.path, json.dumps(body, indent=1, sort_keys=True))
        except OSError as err:
            warnings.warn(f"jaxcnn autotune: could not write {self.path}: {err}", stacklevel=2)


def _read(path: Path, machine: dict) -> dict[str, dict]:
    """The choices in ``path``, or ``{}`` (with a warning) if it is unreadable or foreign."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        warnings.warn(f"jaxcnn autotune: ignoring unreadable cache {path}: {err}", stacklevel=3)
        return {}
    try:
        body = json.loads(text)
    except json.JSONDecodeError as err:
        warnings.warn(f"jaxcnn autotune: ignoring corrupt cache {path}: {err}", stacklevel=3)
        return {}
    if not isinstance(body, dict) or not isinstance(body.get("choices"), dict):
        warnings.warn(f"jaxcnn autotune: ignoring malformed cache {path}", stacklevel=3)
        return {}
    if body.get("schema") != SCHEMA:
        warnings.warn(
            f"jaxcnn autotune: ignoring cache {path} with schema {body.get('schema')!r} "
            f"(this version reads {SCHEMA})",
            stacklevel=3,
        )
        return {}
    if body.get("machine") != machine:
        warnings.warn(
            f"jaxcnn autotune: ignoring cache {path} made for {body.get('machine')!r} "
            f"(this machine: {machine!r})",
            stacklevel=3,
        )
        return {}
    return {k: v for k, v in body["choices"].items() if isinstance(v, dict)}


def default_cache() -> TuningCache:
    """The process's cache for this machine (one object per file path, made on first use)."""
    machine = machine_key()
    path = cache_path(machine)
    with _LOCK:
        if path not in _CACHES:
            _CACHES[path] = TuningCache(path, machine)
        return _CACHES[path]


def forget_memory() -> None:
    """Drop the in-memory choices (the next lookup reads the files again)."""
    with _LOCK:
        _CACHES.clear()


def pick(
    key: str,
    names: Sequence[str],
    time_one: Callable[[str], float],
    cache: TuningCache | None = None,
) -> str:
    """The fastest of ``names`` for ``key``: the cached choice, else measured and cached.

    Args:
      key: what was measured (a convolution's shapes and arguments).
      names: the candidate lowerings (at least one).
      time_one: ``time_one(name) -> seconds`` for one candidate (``inf`` if it failed).
      cache: where choices live (default: :func:`default_cache`).

    Returns:
      One of ``names``.
    """
    cache = default_cache() if cache is None else cache
    with _LOCK:
        hit = cache.get(key)
        if hit is not None and hit in names:
            return hit
        if len(names) == 1:
            return names[0]
        return _measure(key, names, time_one, cache)[0]


def pick_timed(
    key: str,
    names: Sequence[str],
    time_one: Callable[[str], float],
    cache: TuningCache | None = None,
) -> tuple[str, float]:
    """:func:`pick`, with the chosen lowering's seconds (measured even if it is the only one).

    Returns:
      ``(lowering, seconds)``; ``seconds`` is ``inf`` when every candidate failed.
    """
    cache = default_cache() if cache is None else cache
    with _LOCK:
        hit = cache.get(key)
        if hit is not None and hit in names:
            seconds = cache.seconds(key, hit)
            if seconds is not None:
                return hit, seconds
        return _measure(key, names, time_one, cache)


def _measure(key, names, time_one, cache: TuningCache) -> tuple[str, float]:
    """Time every candidate, cache the fastest under ``key``; ``(fastest, its seconds)``."""
    seconds = {name: time_one(name) for name in names}
    best = min(names, key=lambda n: seconds[n])
    cache.put(key, best, seconds)
    return best, seconds[best]


def time_conv(
    conv: Callable[[jax.Array, jax.Array], jax.Array],
    x_shape: tuple[int, ...],
    kernel_shape: tuple[int, ...],
    dtype: np.dtype,
    compiler_options: dict[str, str | bool] | None = None,
) -> float:
    """Seconds of forward plus both gradients of ``conv(x, kernel)`` on the CPU (best run).

    Args:
      conv: a lowering with its static arguments bound, ``(x, kernel) -> y``.
      x_shape, kernel_shape, dtype: concrete shapes and the dtype to time on.
      compiler_options: XLA options to compile it with (those of the program it will run in).

    Returns:
      The fastest of up to :data:`MAX_REPEATS` runs within :data:`BUDGET_S` seconds, or
      ``inf`` (with a warning) if the candidate failed to compile or run.
    """

    def forward_backward(x, k, ct):
        y, vjp = jax.vjp(conv, x, k)
        return y, vjp(ct)

    cpu = jax.devices("cpu")[0]
    rng = np.random.default_rng(0)
    try:
        with jax.ensure_compile_time_eval():
            x = jax.device_put(rng.standard_normal(x_shape).astype(dtype), cpu)
            k = jax.device_put(rng.standard_normal(kernel_shape).astype(dtype), cpu)
            y_shape = jax.eval_shape(conv, x, k)
            ct = jax.device_put(rng.standard_normal(y_shape.shape).astype(dtype), cpu)
            lowered = jax.jit(forward_backward).lower(x, k, ct)
            run = lowered.compile(compiler_options=compiler_options or None)
            jax.block_until_ready(run(x, k, ct))  # warm-up
            best, spent, repeats = math.inf, 0.0, 0
            while repeats < MAX_REPEATS and (repeats < 2 or spent < BUDGET_S):
                t = time.perf_counter()
                jax.block_until_ready(run(x, k, ct))
                dt = time.perf_counter() - t
                best, spent, repeats = min(best, dt), spent + dt, repeats + 1
            return best
    except Exception as err:  # a candidate that cannot run here is not chosen
        warnings.warn(f"jaxcnn autotune: a candidate failed ({err!r}); skipped", stacklevel=2)
        return math.inf
