"""Word vectors: a learned embedding table, and GloVe / word2vec text files in and out.

A vectors file has one word per line followed by its ``D`` numbers, separated by single
spaces (GloVe). The word2vec text format adds a first line ``count D``; both are read. Only
words of the vocabulary are kept; vocabulary words missing from the file get random vectors
with the file's own scale, and are counted, so a user sees how much of the vocabulary the
file really covers.
"""

from __future__ import annotations

import dataclasses
import io
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxcnn.text.vocab import PAD_ID, UNK_ID, Vocabulary

from jaxcnn import _checks, _durable


class Embedding(nn.Module):
    """A learned table of ``num_embeddings`` vectors of size ``features``.

    ``static=True`` stops gradients into the table, so the vectors it was initialised with
    (loaded or skip-gram trained, see :func:`replace_table`) stay fixed during training.

    Call: ``ids`` int ``(..., L)`` -> ``(..., L, features)`` float32.
    """

    num_embeddings: int
    features: int
    static: bool = False
    embedding_init: nn.initializers.Initializer = nn.initializers.normal(stddev=0.1)

    @nn.compact
    def __call__(self, ids: jax.Array) -> jax.Array:
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise TypeError(f"Embedding: ids must have an integer dtype, got {ids.dtype}")
        table = self.param("table", self.embedding_init, (self.num_embeddings, self.features))
        if self.static:
            table = jax.lax.stop_gradient(table)
        # The barrier keeps XLA from fusing the table's scatter-add gradient with what
        # consumes the vectors (a convolution's input gradient): on the CPU that fusion
        # made a Kim CNN training step about 3x slower.
        return jax.lax.optimization_barrier(jnp.take(table, ids, axis=0))


@dataclasses.dataclass(frozen=True)
class VectorStats:
    """What a vectors file gave: ``found`` vocabulary words had a vector, ``missing`` got a
    random one (PAD and UNK not counted), ``ignored`` lines were words outside the vocabulary
    (or repeats of a word already read)."""

    dim: int
    found: int
    missing: int
    ignored: int


def load_vectors(
    path: str | os.PathLike, vocab: Vocabulary, *, dim: int | None = None, seed: int = 0
) -> tuple[np.ndarray, VectorStats]:
    """Read a GloVe or word2vec text file into a table indexed by ``vocab``'s ids.

    Words are matched after lower-casing (the vocabulary is lower-case); the first vector
    of a word wins. PAD's row is zero; UNK's row is the mean of the found vectors (or random
    if none); every other missing word gets ``normal(0, std of the found values)``.

    Args:
      path: the text file (UTF-8).
      vocab: the vocabulary whose ids index the table.
      dim: the expected vector size; ``None`` takes it from the file.
      seed: seeds the random vectors of missing words.

    Returns:
      ``(table, stats)``: ``table`` float32 ``(len(vocab), D)``, ``stats`` a :class:`VectorStats`.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      OSError: the file cannot be read (named).
      ValueError: a file that is not UTF-8 (byte and line named), an empty file (or one with
        only a word2vec header), a word2vec header whose
        count is not the number of vectors, a dimension other than ``dim``, or a broken line
        (wrong number of fields or a non-number), with its 1-based line number.
    """
    _checks.path(path, "load_vectors")
    fn = "load_vectors"
    if dim is not None:
        if not _checks.is_int(dim):
            raise TypeError(f"{fn}: dim must be an int or None, got {type(dim).__name__}")
        if dim < 1:
            raise ValueError(f"{fn}: dim must be >= 1, got {dim}")
    rows: dict[int, np.ndarray] = {}
    ignored = 0
    file_dim = declared = None
    read = 0  # vector lines, kept or not
    # newline=None: \r\n and \r end lines, as reading the file in text mode did
    with io.StringIO(_durable.read_utf8(path, fn), newline=None) as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.rstrip("\r\n").rstrip(" ").split(" ")
            # isascii: str.isdigit accepts "1²", which int() refuses
            if lineno == 1 and len(parts) == 2 and all(p.isascii() and p.isdigit() for p in parts):
                declared, file_dim = int(parts[0]), int(parts[1])  # word2vec "count dim"
                _check_dim(fn, file_dim, dim, path, lineno)
                continue
            if parts == [""]:
                raise ValueError(
                    f"{fn}: line {lineno} of {path} must hold a word and numbers, got an empty line"
                )
            if file_dim is None:
                file_dim = len(parts) - 1
                _check_dim(fn, file_dim, dim, path, lineno)
            if len(parts) != file_dim + 1:
                raise ValueError(
                    f"{fn}: line {lineno} of {path} must have a word and {file_dim} numbers, "
                    f"got {len(parts) - 1} numbers"
                )
            try:
                vec = np.asarray([float(p) for p in parts[1:]], dtype=np.float32)
            except ValueError:
                raise ValueError(
                    f"{fn}: line {lineno} of {path} must have {file_dim} numbers after the word, "
                    f"got {' '.join(parts[1:4])!r}..."
                ) from None
            if not np.all(np.isfinite(vec)):
                raise ValueError(
                    f"{fn}: line {lineno} of {path} must have finite numbers, got inf or nan"
                )
            read += 1
            i = vocab.id(parts[0].lower())
            if i in (PAD_ID, UNK_ID) or i in rows:
                ignored += 1
                continue
            rows[i] = vec
    if read == 0:
        got = "only a header" if declared is not None else "an empty file"
        raise ValueError(f"{fn}: {path} must hold at least one vector, got {got}")
    assert file_dim is not None  # set by the first vector line, and read > 0
    if declared is not None and read != declared:
        raise ValueError(
            f"{fn}: {path} must hold the {declared} vectors its header declares, got {read} "
            "(a truncated file?)"
        )
    table, missing = _fill_table(rows, len(vocab), file_dim, seed)
    return table, VectorStats(dim=file_dim, found=len(rows), missing=missing, ignored=ignored)


def save_vectors(
    path: str | os.PathLike, vocab: Vocabulary, table: ArrayLike, *, header: bool = True
) -> None:
    """Write ``table`` as a word2vec text file (``header=False``: GloVe, no first line).

    PAD and UNK are not written (they are not words). Atomic: temp file + ``os.replace``.

    Args:
      path: the output file.
      vocab: names the rows.
      table: ``(len(vocab), D)`` floats.

    Raises:
      ValueError: ``table`` does not have one row per vocabulary word; a written word that is
        empty or holds whitespace, or whose row holds NaN or inf (:func:`load_vectors` could
        not read it back). Nothing is written then.
    """
    table = np.asarray(table, dtype=np.float32)
    _checks.rank(table, 2, "save_vectors", "table", "(V, D)")
    if table.shape[0] != len(vocab):
        raise ValueError(
            f"save_vectors: table must have {len(vocab)} rows (one per word), got {table.shape}"
        )
    words = vocab.tokens[2:]
    for word in words:
        if not word or any(c.isspace() for c in word):
            raise ValueError(
                f"save_vectors: words must be non-empty and hold no whitespace, got {word!r}"
            )
    bad = np.flatnonzero(~np.isfinite(table[2:]).all(axis=1))
    if bad.size:
        raise ValueError(
            f"save_vectors: table must be finite, got inf or nan in the row of {words[bad[0]]!r}"
        )
    lines = [f"{len(vocab) - 2} {table.shape[1]}"] if header else []
    for word, row in zip(words, table[2:], strict=True):
        # 9 significant digits identify a float32 exactly: a round trip is bit-exact.
        lines.append(word + " " + " ".join(format(float(v), ".9g") for v in row))
    _durable.write_text(path, "\n".join(lines) + "\n")


def replace_table(variables: dict, name: str, table: ArrayLike) -> dict:
    """Return ``variables`` with ``params[name]["table"]`` replaced by ``table`` (a copy).

    Use it to start a model from loaded or skip-gram vectors: ``fit(..., variables=...)``.

    Raises:
      ValueError: no such embedding, or a table of another shape.
    """
    params = dict(variables["params"])
    if name not in params or "table" not in params[name]:
        raise ValueError(f"replace_table: name must be an embedding in params, got {name!r}")
    old = params[name]["table"]
    if tuple(np.shape(table)) != tuple(old.shape):
        raise ValueError(
            f"replace_table: table must have shape {tuple(old.shape)}, got {np.shape(table)}"
        )
    params[name] = {**params[name], "table": jnp.asarray(table, dtype=old.dtype)}
    return {**variables, "params": params}


def _check_dim(fn, file_dim, want, path, lineno):
    if file_dim < 1:
        raise ValueError(f"{fn}: line {lineno} of {path} must have a word and numbers, got none")
    if want is not None and file_dim != want:
        raise ValueError(
            f"{fn}: vectors must have dimension {want}, got {file_dim} (line {lineno} of {path})"
        )


def _fill_table(rows: dict[int, np.ndarray], size: int, dim: int, seed: int):
    table = np.zeros((size, dim), np.float32)
    found = np.stack(list(rows.values())) if rows else np.zeros((0, dim), np.float32)
    std = float(found.std()) if found.size > 1 else 0.1
    rng = np.random.default_rng(seed)
    missing = 0
    for i in range(2, size):
        if i in rows:
            table[i] = rows[i]
        else:
            table[i] = rng.normal(0.0, std, dim)
            missing += 1
    table[UNK_ID] = found.mean(axis=0) if len(found) else rng.normal(0.0, std, dim)
    return table, missing
