"""Streaming: data sets too large for the device, sent one compiled call's rows at a time.

A `Dataset` made by `Dataset.streaming` keeps its arrays on the host (NumPy arrays or memory
maps). For each training call the loop gathers, on the host, the rows its ``(S, B)`` index
matrix names, sends only those, and indexes them with the fixed local matrix
``arange(S * B).reshape(S, B)``: the batches are exactly those of the device-resident data set,
so a streamed run trains to the same parameters (tested), and the device holds one call's rows.
"""

from __future__ import annotations

import jax
import numpy as np


def gather_rows(arrays, flat_indices: np.ndarray):
    """Host-side rows ``flat_indices`` of every leaf, as NumPy (what one streamed call needs)."""
    return jax.tree.map(lambda a: np.asarray(a[np.asarray(flat_indices)]), arrays)


def device_arrays(dataset, repl):
    """The arrays a data set keeps on the device for the whole run: all of them, or ``None``
    for a streamed data set (its calls bring their own rows, `call_inputs`)."""
    return None if dataset.streamed else jax.device_put(dataset.arrays, repl)


#: A streamed evaluation sends this many batches per call (a fixed shape: one compile).
STREAM_EVAL_STEPS = 8


def call_inputs(dataset, device_arrays, idx, repl):
    """``(arrays, indices)`` for one training call: the device arrays and the call's index
    matrix, or for a streamed data set the call's rows gathered on the host and sent now, with
    the local indices ``arange(S * B).reshape(S, B)`` into them (the same batches)."""
    if not dataset.streamed:
        return device_arrays, idx
    idx = np.asarray(idx)
    rows = jax.device_put(gather_rows(dataset.arrays, idx.reshape(-1)), repl)
    return rows, np.arange(idx.size, dtype=np.int32).reshape(idx.shape)


def eval_calls(dataset, device_arrays, idx, valid, repl):
    """The evaluation calls ``(arrays, idx, valid)``: one over the whole matrix, or for a
    streamed data set blocks of `STREAM_EVAL_STEPS` batches (the last padded, invalid)."""
    if not dataset.streamed:
        yield device_arrays, idx, valid
        return
    steps = STREAM_EVAL_STEPS
    n = -(-idx.shape[0] // steps) * steps
    idx = np.concatenate([idx, np.zeros((n - idx.shape[0], idx.shape[1]), idx.dtype)])
    valid = np.concatenate([valid, np.zeros((n - valid.shape[0], valid.shape[1]), valid.dtype)])
    for start in range(0, n, steps):
        arrays, local = call_inputs(dataset, None, idx[start : start + steps], repl)
        yield arrays, local, valid[start : start + steps]
