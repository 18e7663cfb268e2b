"""Streaming: data sets too large for the device, sent one compiled call's rows at a time.

A `Dataset` made by `Dataset.streaming` keeps its arrays on the host (NumPy arrays or memory
maps). For each training call the loop gathers, on the host, the rows its ``(S, B)`` index
matrix names, sends only those, and indexes them with the fixed local matrix
``arange(S * B).reshape(S, B)``: the batches are exactly those of the device-resident data set,
so a streamed run trains to the same parameters (tested), and the device holds one call's rows.

Many processes (``jax.distributed``): a row-wise data set is fed the same way, each process
gathering only its own share of every batch (columns ``[p * B / P, (p + 1) * B / P)`` of the
index matrix) and `jax.make_array_from_process_local_data` joining the shares into one array
split over the processes; the local index matrix then points every batch position at the row
its process sent. The batches, and so the run, are those of one process.
"""

from __future__ import annotations

import jax
import numpy as np


def gather_rows(arrays, flat_indices: np.ndarray):
    """Host-side rows ``flat_indices`` of every leaf, as NumPy (what one streamed call needs)."""
    return jax.tree.map(lambda a: np.asarray(a[np.asarray(flat_indices)]), arrays)


def host_fed(dataset) -> bool:
    """Whether each call brings its own rows: a streamed data set, or a row-wise one (``take``
    is `take_rows`) under several processes, each then feeding its share of each batch."""
    from jaxcnn.train.data import take_rows

    return dataset.streamed or (jax.process_count() > 1 and dataset.take is take_rows)


def device_arrays(dataset, repl):
    """The arrays a data set keeps on the device for the whole run: all of them, or ``None``
    when its calls bring their own rows (`host_fed`, `call_inputs`)."""
    return None if host_fed(dataset) else jax.device_put(dataset.arrays, repl)


#: A streamed evaluation sends this many batches per call (a fixed shape: one compile).
STREAM_EVAL_STEPS = 8


def call_inputs(dataset, device_arrays, idx, repl):
    """``(arrays, indices)`` for one training call: the device arrays and the call's index
    matrix, or for a streamed data set the call's rows gathered on the host and sent now, with
    the local indices ``arange(S * B).reshape(S, B)`` into them (the same batches)."""
    if not host_fed(dataset):
        return device_arrays, idx
    idx = np.asarray(idx)
    procs = jax.process_count()
    if procs == 1:
        rows = jax.device_put(gather_rows(dataset.arrays, idx.reshape(-1)), repl)
        return rows, np.arange(idx.size, dtype=np.int32).reshape(idx.shape)
    return _process_share(dataset, idx, repl, procs)


def _process_share(dataset, idx: np.ndarray, repl, procs: int):
    """This process's rows of every batch of ``idx (S, B)`` in one array split over processes.

    The process whose devices hold block ``q`` of the mesh sends rows ``idx[:, q*b:(q+1)*b]``
    (``b = B / P``), flattened step-major; the global array holds the blocks in order, so
    batch position ``j`` of step ``s`` is row ``(j // b) * S * b + s * b + j % b``.
    """
    from jax.sharding import NamedSharding
    from jax.sharding import PartitionSpec as P

    steps, width = idx.shape
    b = width // procs  # B is divisible by the device count, so by the process count
    p = jax.process_index()
    mine = gather_rows(dataset.arrays, idx[:, p * b : (p + 1) * b].reshape(-1))
    split = NamedSharding(repl.mesh, P(repl.mesh.axis_names[0]))
    rows = jax.tree.map(
        lambda a: jax.make_array_from_process_local_data(
            split, a, (procs * a.shape[0],) + a.shape[1:]
        ),
        mine,
    )
    j = np.arange(width)
    local = (j // b) * steps * b + np.arange(steps)[:, None] * b + j % b
    return rows, local.astype(np.int32)


def eval_calls(dataset, device_arrays, idx, valid, repl):
    """The evaluation calls ``(arrays, idx, valid)``: one over the whole matrix, or for a
    streamed data set blocks of `STREAM_EVAL_STEPS` batches (the last padded, invalid)."""
    if not host_fed(dataset):
        yield device_arrays, idx, valid
        return
    steps = STREAM_EVAL_STEPS
    n = -(-idx.shape[0] // steps) * steps
    idx = np.concatenate([idx, np.zeros((n - idx.shape[0], idx.shape[1]), idx.dtype)])
    valid = np.concatenate([valid, np.zeros((n - valid.shape[0], valid.shape[1]), valid.dtype)])
    for start in range(0, n, steps):
        arrays, local = call_inputs(dataset, None, idx[start : start + steps], repl)
        yield arrays, local, valid[start : start + steps]
