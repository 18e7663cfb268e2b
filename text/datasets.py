"""Labelled sentences: WordNet glosses by lexicographer file, and ``label<TAB>text`` files.

WordNet's ``data.noun/verb/adj/adv`` files hold one synset per line (lines starting with two
spaces are the licence). A line reads ``offset lex_filenum ss_type w_cnt word lex_id ... |
gloss``; ``lex_filenum`` (field 1) names one of the 45 lexicographer files in
:data:`LEXNAMES` (noun.animal, verb.motion, ...), which is the label: "what kind of thing
does this definition define". The split is a hash of the synset's key, so it is the same on
every machine, for any subset of the files, and independent of file order.
"""

from __future__ import annotations

import dataclasses
import io
import os
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike
from jaxcnn.text.sequences import BucketStats, bucket_sequences
from jaxcnn.text.vocab import UNK_ID, Vocabulary

from jaxcnn import _checks, _durable

if TYPE_CHECKING:  # imported late at run time: the data side works without jaxcnn.train
    from jaxcnn.train.data import Dataset

# WordNet's standard lexicographer files (lexnames(5WN)); the file itself is not shipped by
# Debian's wordnet-base, and the numbering is fixed by the format.
LEXNAMES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event",
    "noun.feeling", "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object",
    "noun.person", "noun.phenomenon", "noun.plant", "noun.possession", "noun.process",
    "noun.quantity", "noun.relation", "noun.shape", "noun.state", "noun.substance", "noun.time",
    "verb.body", "verb.change", "verb.cognition", "verb.communication", "verb.competition",
    "verb.consumption", "verb.contact", "verb.creation", "verb.emotion", "verb.motion",
    "verb.perception", "verb.possession", "verb.social", "verb.stative", "verb.weather",
    "adj.ppl",
)  # fmt: skip
POS_FILES = ("noun", "verb", "adj", "adv")
WORDNET_DIRS = ("/usr/share/wordnet",)


@dataclasses.dataclass(frozen=True)
class Example:
    """One labelled text; ``key`` identifies it (for WordNet ``"n:00217014"``)."""

    text: str
    label: int
    key: str


def find_wordnet(directory: str | os.PathLike | None = None) -> Path:
    """The folder holding WordNet's ``data.*`` files.

    Accepts the folder itself (Debian's ``/usr/share/wordnet``, NLTK's
    ``nltk_data/corpora/wordnet``) or one with a ``dict`` sub-folder (the Princeton tarball).

    Raises:
      ValueError: no ``data.noun/verb/adj/adv`` file there (or in any default place).
    """
    candidates = [Path(directory)] if directory is not None else [Path(d) for d in WORDNET_DIRS]
    for base in candidates:
        for d in (base, base / "dict"):
            if any((d / f"data.{p}").is_file() for p in POS_FILES):
                return d
    raise ValueError(
        f"find_wordnet: directory must hold WordNet data.noun/verb/adj/adv files, got "
        f"{[str(c) for c in candidates]}"
    )


def read_wordnet(
    directory: str | os.PathLike | None = None,
    *,
    pos: Sequence[str] = POS_FILES,
    examples: bool = True,
) -> list[Example]:
    """Every synset gloss with its lexicographer-file label, in file order.

    Args:
      directory: a WordNet dict folder (see :func:`find_wordnet`); ``None`` = the default.
      pos: which ``data.*`` files to read (missing ones are skipped, at least one must exist).
      examples: keep the quoted usage examples of the gloss; ``False`` keeps only the
        definition (the text before the first ``; "``).

    Returns:
      :class:`Example`s with ``label`` in ``[0, 45)`` (:data:`LEXNAMES`) and
      ``key = "{ss_type}:{offset}"``.

    Raises:
      ValueError: no data files, or a malformed data line (with file and line number).
    """
    root = find_wordnet(directory)
    for p in pos:
        _checks.one_of(p, [q.upper() for q in POS_FILES], "read_wordnet", "pos")
    out = []
    for p in pos:
        path = root / f"data.{p.lower()}"
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, start=1):
                if line.startswith("  ") or not line.strip():
                    continue
                head, bar, gloss = line.partition("|")
                fields = head.split()
                if not bar or len(fields) < 4 or not fields[1].isdigit():
                    raise ValueError(
                        f"read_wordnet: line {lineno} of {path} must be 'offset lex_filenum "
                        f"ss_type ... | gloss', got {line[:60]!r}"
                    )
                label = int(fields[1])
                if label >= len(LEXNAMES):
                    raise ValueError(
                        f"read_wordnet: lex_filenum must be < {len(LEXNAMES)}, got {label} "
                        f"(line {lineno} of {path})"
                    )
                text = gloss.strip()
                if not examples:
                    text = text.split('; "')[0].strip()
                out.append(Example(text, label, f"{fields[2]}:{fields[0]}"))
    return out


def read_synonyms(
    directory: str | os.PathLike | None = None, *, pos: Sequence[str] = POS_FILES
) -> list[tuple[str, str]]:
    """Pairs of one-word synonyms: the lower-cased words of each synset, all pairs ``i < j``.

    The words are fields ``4, 6, ...`` of a data line (``w_cnt``, field 3, is hexadecimal);
    adjective markers such as ``(a)`` are removed; multi-word entries (``laying_waste``) are
    left out. A check for word vectors that were trained on the glosses, not the synsets.

    Args:
      directory: a WordNet dict folder (see :func:`find_wordnet`); ``None`` = the default.
      pos: which ``data.*`` files to read (as :func:`read_wordnet`).

    Returns:
      ``(word, word)`` pairs in file order, each pair once.

    Raises:
      ValueError: no data files (see :func:`find_wordnet`), an unknown ``pos``, or a
        malformed data line (with file and line number).
    """
    fn = "read_synonyms"
    root = find_wordnet(directory)
    for p in pos:
        _checks.one_of(p, [q.upper() for q in POS_FILES], fn, "pos")
    out, seen = [], set()
    for p in pos:
        path = root / f"data.{p.lower()}"
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, start=1):
                if line.startswith("  ") or not line.strip():
                    continue
                fields = line.split("|", 1)[0].split()
                try:
                    n = int(fields[3], 16)
                except (IndexError, ValueError):
                    raise ValueError(
                        f"{fn}: line {lineno} of {path} must be 'offset lex_filenum ss_type "
                        f"w_cnt word ...', got {line[:60]!r}"
                    ) from None
                words = [w.split("(")[0].lower() for w in fields[4 : 4 + 2 * n : 2]]
                words = list(dict.fromkeys(w for w in words if w.isalpha()))
                for i, a in enumerate(words):
                    for b in words[i + 1 :]:
                        if (a, b) not in seen:
                            seen.add((a, b))
                            out.append((a, b))
    return out


def split_examples(
    items: Sequence[Example], *, dev: float = 0.1, test: float = 0.1
) -> tuple[list[Example], list[Example], list[Example]]:
    """Deterministic train / dev / test split by a CRC-32 hash of each example's key.

    Returns:
      ``(train, dev, test)``, each in input order.

    Raises:
      ValueError: fractions outside ``[0, 1)`` or summing to 1 or more.
    """
    if not (0 <= dev < 1 and 0 <= test < 1 and dev + test < 1):
        raise ValueError(
            f"split_examples: dev and test must be fractions summing to < 1, got {dev}, {test}"
        )
    parts: tuple[list, list, list] = ([], [], [])
    for ex in items:
        u = zlib.crc32(ex.key.encode("utf-8")) / 2**32
        parts[2 if u < test else 1 if u < test + dev else 0].append(ex)
    return parts


@dataclasses.dataclass(frozen=True)
class ReadStats:
    """Lines of a ``label<TAB>text`` file that were skipped, by reason."""

    read: int
    no_label: int
    unseen_label: int
    empty_text: int


def read_labelled(
    path: str | os.PathLike,
    label_names: Sequence[str] | None = None,
    *,
    errors: str = "raise",
) -> tuple[list[Example], tuple[str, ...], ReadStats]:
    """Read one ``label<TAB>text`` example per line (UTF-8; blank lines ignored).

    Args:
      path: the file.
      label_names: the known labels (e.g. from the training file); ``None`` = collect them
        from this file in sorted order (use it for the training file).
      errors: ``"raise"``: a line without a tab or label, with empty text, or with a label
        not in ``label_names`` is an error naming the line; ``"skip"``: such lines are
        skipped and counted in the returned :class:`ReadStats`.

    Returns:
      ``(examples, label_names, stats)``; ``Example.label`` indexes ``label_names`` and
      ``Example.key`` is ``"{file name}:{line}"``.

    Raises:
      TypeError: ``path`` is not a str or os.PathLike (None, say).
      OSError: the file cannot be read (named).
      ValueError: see ``errors``; a file that is not UTF-8 (byte and line named); or no
        example at all.
    """
    _checks.path(path, "read_labelled")
    fn = "read_labelled"
    mode = _checks.one_of(errors, ("RAISE", "SKIP"), fn, "errors")
    rows, no_label, empty = [], 0, 0
    # newline=None: \r\n and \r end lines, as reading the file in text mode did
    with io.StringIO(_durable.read_utf8(path, fn), newline=None) as f:
        for lineno, line in enumerate(f, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            label, tab, text = line.partition("\t")
            problem = None
            if not tab or not label.strip():
                problem, no_label = "a label, a tab and a text", no_label + 1
            elif not text.strip():
                problem, empty = "a non-empty text after the tab", empty + 1
            if problem:
                if mode == "RAISE":
                    raise ValueError(
                        f"{fn}: line {lineno} of {path} must have {problem}, got {line[:60]!r}"
                    )
                continue
            rows.append((label.strip(), text.strip(), f"{Path(path).name}:{lineno}"))
    names = tuple(sorted({r[0] for r in rows})) if label_names is None else tuple(label_names)
    index = {n: i for i, n in enumerate(names)}
    out, unseen = [], 0
    for label, text, key in rows:
        if label not in index:
            if mode == "RAISE":
                raise ValueError(
                    f"{fn}: labels must be among the {len(names)} known labels, got {label!r} "
                    f"at {key}"
                )
            unseen += 1
            continue
        out.append(Example(text, index[label], key))
    if not out:
        raise ValueError(f"{fn}: {path} must hold at least one usable example, got none")
    return out, names, ReadStats(len(out), no_label, unseen, empty)


@dataclasses.dataclass(frozen=True)
class EncodeStats:
    """Examples dropped before bucketing: ``empty`` (no token) and ``all_unknown`` (every
    token unknown to the vocabulary, so the model would see only UNK)."""

    kept: int
    empty: int
    all_unknown: int


def encode_examples(
    items: Sequence[Example], vocab: Vocabulary, *, drop_all_unknown: bool = True
) -> tuple[list[np.ndarray], np.ndarray, EncodeStats]:
    """Token ids of every example, dropping (and counting) the ones a model cannot use.

    Returns:
      ``(sequences, labels, stats)``: ``(T_i,)`` int32 ids and ``(N,)`` int32 labels of the
      kept examples.
    """
    seqs, labels, empty, unknown = [], [], 0, 0
    for ex in items:
        ids = vocab.encode(ex.text)
        if len(ids) == 0:
            empty += 1
            continue
        if drop_all_unknown and bool(np.all(ids == UNK_ID)):
            unknown += 1
            continue
        seqs.append(ids)
        labels.append(ex.label)
    return seqs, np.asarray(labels, np.int32), EncodeStats(len(seqs), empty, unknown)


def bucket_datasets(
    sequences: Sequence[np.ndarray],
    labels: np.ndarray,
    lengths: Sequence[int] = (16, 32, 64),
    *,
    too_long: str = "truncate",
    min_count: int = 1,
) -> tuple[list[Dataset], BucketStats]:
    """Training :class:`jaxcnn.train.Dataset` buckets of ``{"x": {"ids", "mask"}, "y"}``.

    Args:
      sequences: ``(T_i,)`` int id arrays; labels: ``(N,)`` int labels, one per sequence.
      lengths, too_long, min_count: as :func:`text.sequences.bucket_sequences` (use
        ``min_count=batch_size``: the training loop needs a full batch in every bucket).

    Returns:
      ``(datasets, stats)``: one ``Dataset`` per non-empty bucket (``x["ids"]`` int32
      ``(B, L)``, ``x["mask"]`` bool ``(B, L)``, ``y`` int32 ``(B,)``) and the
      :class:`text.sequences.BucketStats`.

    Raises:
      TypeError: ``labels`` not integers.
      ValueError: ``labels`` not one per sequence, or as ``bucket_sequences``.
    """
    labels = np.asarray(labels)
    if labels.shape != (len(sequences),):
        raise ValueError(
            f"bucket_datasets: labels must have shape ({len(sequences)},), got {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"bucket_datasets: labels must have an integer dtype, got {labels.dtype}")
    buckets, stats = bucket_sequences(sequences, lengths, too_long=too_long, min_count=min_count)
    out = [token_dataset(b.ids, b.mask, labels[b.index].astype(np.int32)) for b in buckets]
    return out, stats


def token_dataset(
    ids: ArrayLike, mask: ArrayLike, y: ArrayLike, weight: ArrayLike | None = None
) -> Dataset:
    """One ``Dataset`` whose batches are ``{"x": {"ids", "mask"}, "y"[, "weight"]}``.

    Args:
      ids: int32 ``(N, L)``; mask: bool ``(N, L)``; y: int32 ``(N,)`` or ``(N, L)``;
      weight: optional float32 shaped like ``y`` (0 = ignore).

    Raises:
      TypeError: ``ids`` or ``y`` not integers.
      ValueError: ``ids`` not ``(N, L)`` with ``N >= 1``, or ``mask`` / ``y`` / ``weight`` of
        another shape (a batch gather would otherwise clamp the short array's rows silently).
    """
    from jaxcnn.train.data import Dataset  # imported late: the data side works without it

    _check_token_arrays(ids, mask, y, weight)
    arrays = {
        "ids": jnp.asarray(ids, jnp.int32),
        "mask": jnp.asarray(mask, bool),
        "y": jnp.asarray(y, jnp.int32),
    }
    if weight is not None:
        arrays["weight"] = jnp.asarray(weight, jnp.float32)
    return Dataset(arrays=arrays, take=_take, size=int(np.shape(ids)[0]))


def _take(arrays, idx):
    batch = {"x": {"ids": arrays["ids"][idx], "mask": arrays["mask"][idx]}, "y": arrays["y"][idx]}
    if "weight" in arrays:
        batch["weight"] = arrays["weight"][idx]
    return batch


def _check_token_arrays(ids, mask, y, weight):
    fn = "token_dataset"
    shape = np.shape(ids)
    if len(shape) != 2 or shape[0] == 0:
        raise ValueError(f"{fn}: ids must have shape (N, L) with N >= 1, got {shape}")
    if not np.issubdtype(np.asarray(ids).dtype, np.integer):
        raise TypeError(f"{fn}: ids must have an integer dtype, got {np.asarray(ids).dtype}")
    if np.shape(mask) != shape:
        raise ValueError(f"{fn}: mask must have the shape of ids {shape}, got {np.shape(mask)}")
    if np.shape(y) not in (shape[:1], shape):
        raise ValueError(f"{fn}: y must have shape {shape[:1]} or {shape}, got {np.shape(y)}")
    if not np.issubdtype(np.asarray(y).dtype, np.integer):
        raise TypeError(f"{fn}: y must have an integer dtype, got {np.asarray(y).dtype}")
    if weight is not None and np.shape(weight) != np.shape(y):
        raise ValueError(
            f"{fn}: weight must have the shape of y {np.shape(y)}, got {np.shape(weight)}"
        )
