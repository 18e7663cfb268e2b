"""Words to integer ids: a tokeniser and a frequency-cut vocabulary saved as JSON.

Ids 0 and 1 are reserved: ``PAD_ID = 0`` fills the tail of a padded sequence and
``UNK_ID = 1`` stands for every word that did not make the cut. Real words follow in order
of decreasing count (ties broken alphabetically), so a vocabulary built twice from the same
text is identical, and ``max_size`` keeps the most frequent words.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import re
from collections.abc import Iterable, Sequence

import numpy as np

from jaxcnn import _checks, _durable

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
FORMAT = "jaxcnn.vocab/1"

# A word is a run of letters/digits, optionally with one apostrophe part ("don't", "dog's");
# every other non-space character is a token of its own, so "end." -> ["end", "."].
_TOKEN = re.compile(r"\w+(?:'\w+)?|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-case ``text`` and split it into words and single punctuation marks.

    Args:
      text: any string.

    Returns:
      The tokens, e.g. ``tokenize("A dog's bark, loud.")`` is
      ``["a", "dog's", "bark", ",", "loud", "."]``; an empty list for an empty or all-space string.

    Raises:
      TypeError: ``text`` is not a str.
    """
    if not isinstance(text, str):
        raise TypeError(f"tokenize: text must be a str, got {type(text).__name__}")
    return _TOKEN.findall(text.lower())


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """An id for every kept word; ``tokens[i]`` is the word with id ``i``.

    ``counts[i]`` is the word's count in the text the vocabulary was built from (0 for PAD;
    for UNK, the total count of the words that were cut), used for skip-gram's noise
    distribution and frequent-word subsampling.

    Raises:
      TypeError: ``tokens`` or ``counts`` is not a tuple.
      ValueError: ``tokens`` does not start with PAD, UNK, has duplicates, or ``counts`` has
        another length.
    """

    tokens: tuple[str, ...]
    counts: tuple[int, ...]

    # Word -> id, filled in by __post_init__; not a field (no init, repr or comparison).
    _index: dict[str, int] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("tokens", "counts"):
            value = getattr(self, name)
            if not isinstance(value, tuple):
                raise TypeError(
                    f"Vocabulary: {name} must be a tuple, got {type(value).__name__} "
                    f"(pass tuple({name}))"
                )
        if self.tokens[:2] != (PAD, UNK):
            raise ValueError(
                f"Vocabulary: tokens must start with {(PAD, UNK)}, got {self.tokens[:2]}"
            )
        if len(self.counts) != len(self.tokens):
            raise ValueError(
                f"Vocabulary: counts must have one entry per token ({len(self.tokens)}), "
                f"got {len(self.counts)}"
            )
        if len(set(self.tokens)) != len(self.tokens):
            raise ValueError("Vocabulary: tokens must be unique, got duplicates")
        object.__setattr__(self, "_index", {t: i for i, t in enumerate(self.tokens)})

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, word: str) -> bool:
        return word in self._index

    def id(self, word: str) -> int:
        """The id of ``word``, ``UNK_ID`` if it is not in the vocabulary."""
        return self._index.get(word, UNK_ID)

    def encode(self, text: str) -> np.ndarray:
        """Tokenise ``text`` and map each token to its id.

        Returns:
          ``(T,)`` int32 ids (``T`` may be 0 for an empty text; unknown words are ``UNK_ID``).

        Raises:
          TypeError: ``text`` is not a str.
        """
        return self.encode_tokens(tokenize(text))

    def encode_tokens(self, tokens: Sequence[str]) -> np.ndarray:
        """``(T,)`` int32 ids of already-tokenised words (unknown words -> ``UNK_ID``)."""
        return np.asarray([self._index.get(t, UNK_ID) for t in tokens], dtype=np.int32)

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The words of ``ids`` (PAD ids dropped).

        Raises:
          ValueError: an id outside ``[0, len(self))``.
        """
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise ValueError(
                    f"Vocabulary.decode: ids must be in [0, {len(self.tokens)}), got {i}"
                )
            if i != PAD_ID:
                out.append(self.tokens[i])
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON, atomically (temp file + ``os.replace``)."""
        obj = {"format": FORMAT, "tokens": list(self.tokens), "counts": list(self.counts)}
        _durable.write_text(path, json.dumps(obj, ensure_ascii=False))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`.

        Raises:
          TypeError: ``path`` is not a str or os.PathLike (None, say).
          FileNotFoundError / OSError: the file cannot be read (named).
          ValueError: the file is not UTF-8 JSON (`jaxcnn._durable.CorruptFileError`), not a
            vocabulary of this format, lacks its ``tokens`` or ``counts`` list, or holds a
            non-string token, a count that is not an int >= 0, or duplicates (file named).
        """
        _checks.path(path, "Vocabulary.load")
        fn = "Vocabulary.load"
        obj = _durable.read_json(path, fix="rebuild it with build_vocabulary(...).save(path)")
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            got = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
            raise ValueError(f"{fn}: {path} must have format {FORMAT!r}, got {got!r}")
        for key in ("tokens", "counts"):
            if not isinstance(obj.get(key), list):
                got = "no such key" if key not in obj else type(obj[key]).__name__
                raise ValueError(f"{fn}: {path} must have a list {key!r}, got {got}")
        bad = [t for t in obj["tokens"] if not isinstance(t, str)][:3]
        if bad:
            raise ValueError(f"{fn}: {path} tokens must be strings, got {bad!r}")
        bad = [c for c in obj["counts"] if not _checks.is_int(c) or c < 0][:3]
        if bad:  # int("12") used to pass a string count, int("x") failed naming no file
            raise ValueError(f"{fn}: {path} counts must be ints >= 0, got {bad!r}")
        try:
            return cls(tuple(obj["tokens"]), tuple(obj["counts"]))
        except (TypeError, ValueError) as e:
            raise ValueError(f"{fn}: {path} does not hold a valid vocabulary: {e}") from e


def build_vocabulary(
    texts: Iterable[str | Sequence[str]], *, min_freq: int = 1, max_size: int | None = None
) -> Vocabulary:
    """Count the words of ``texts`` and keep the frequent ones.

    Args:
      texts: strings (tokenised with :func:`tokenize`) or already-tokenised word lists.
      min_freq: keep words seen at least this often (>= 1).
      max_size: the largest vocabulary, PAD and UNK included (>= 2); ``None`` = no limit.

    Returns:
      A :class:`Vocabulary`: PAD, UNK, then the kept words by decreasing count, ties
      alphabetically.

    Raises:
      TypeError: ``min_freq`` or ``max_size`` is not an int.
      ValueError: ``min_freq < 1`` or ``max_size < 2``.
    """
    fn = "build_vocabulary"
    if not _checks.is_int(min_freq):
        raise TypeError(f"{fn}: min_freq must be an int, got {type(min_freq).__name__}")
    if min_freq < 1:
        raise ValueError(f"{fn}: min_freq must be >= 1, got {min_freq}")
    if max_size is not None:
        if not _checks.is_int(max_size):
            raise TypeError(f"{fn}: max_size must be an int or None, got {type(max_size).__name__}")
        if max_size < 2:
            raise ValueError(f"{fn}: max_size must be >= 2 (PAD and UNK), got {max_size}")
    counter: collections.Counter = collections.Counter()
    for t in texts:
        counter.update(tokenize(t) if isinstance(t, str) else t)
    for reserved in (PAD, UNK):
        counter.pop(reserved, None)
    ranked = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = [(w, c) for w, c in ranked if c >= min_freq]
    if max_size is not None:
        kept = kept[: max_size - 2]
    unk_count = sum(counter.values()) - sum(c for _, c in kept)
    tokens = (PAD, UNK) + tuple(w for w, _ in kept)
    counts = (0, unk_count) + tuple(c for _, c in kept)
    return Vocabulary(tokens, counts)
