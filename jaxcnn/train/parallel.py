"""Data parallelism: one mesh axis "data" over all devices; batch sharded, the rest replicated.

On one host this covers one CPU or several GPUs. On several hosts, call
``jax.distributed.initialize()`` first (see docs/training.md): ``jax.devices()`` then lists
every host's devices and the same code shards the batch over all of them.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh with axis "data" over ``devices`` (default: all of ``jax.devices()``)."""
    devices = jax.devices() if devices is None else devices
    return Mesh(np.asarray(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
    """Sharding that keeps a full copy on every device (parameters, data arrays)."""
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    """Sharding that splits the leading (batch) axis over the "data" axis."""
    return NamedSharding(mesh, P("data"))


def check_batch(batch_size: int, mesh: Mesh, fn: str, arg: str = "batch_size") -> None:
    """Raise ValueError unless ``batch_size`` is divisible by the mesh's device count."""
    n = mesh.devices.size
    if batch_size % n:
        raise ValueError(f"{fn}: {arg} must be divisible by the device count {n}, got {batch_size}")


def shard_batch(batch, mesh: Mesh):
    """Constrain every leaf of a batch (leading axis B) to be split over devices (in jit)."""
    return jax.lax.with_sharding_constraint(batch, batch_sharded(mesh))
