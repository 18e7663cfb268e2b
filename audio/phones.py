"""The 46-phone set, 3 states per phone (138 classes), and the symbol mappings into it.

The set is Lee & Hon's 39 TIMIT phones (1989) with seven of their merges undone, chosen
because the synthesiser also makes these distinctions, so each class has examples:

    ix (from ih), ax (from ah), ao (from aa), axr (from er), el (from l), en (from n), zh (from sh)

``sil`` covers silence, pauses, TIMIT's stop closures (``bcl`` ... ``kcl``), ``epi`` and the glottal
stop ``q`` (which Lee & Hon delete; a frame needs a label, and a closure is near-silence).
A phone ``p`` at index ``i`` has states ``3*i``, ``3*i+1``, ``3*i+2`` (first, middle and last third
of its segment), so ``state // 3`` is the phone.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

PHONES: tuple[str, ...] = (
    # fmt: off
    "sil",
    "iy",
    "ih",
    "ix",
    "eh",
    "ae",
    "ah",
    "ax",
    "uw",
    "uh",
    "aa",
    "ao",
    "ey",
    "ay",
    "oy",
    "aw",
    "ow",
    "er",
    "axr",
    "l",
    "el",
    "r",
    "w",
    "y",
    "m",
    "n",
    "en",
    "ng",
    "b",
    "d",
    "dx",
    "g",
    "p",
    "t",
    "k",
    "ch",
    "jh",
    "dh",
    "z",
    "zh",
    "v",
    "f",
    "th",
    "s",
    "sh",
    "hh",
    # fmt: on
)
NUM_PHONES = len(PHONES)  # 46
STATES_PER_PHONE = 3
NUM_STATES = NUM_PHONES * STATES_PER_PHONE  # 138
PHONE_INDEX = {p: i for i, p in enumerate(PHONES)}
SILENCE = "sil"

# TIMIT's 61 symbols -> the 46 phones. Every one of the 46 maps to itself.
TIMIT_TO_PHONE: dict[str, str] = {p: p for p in PHONES if p != "sil"} | {
    "ux": "uw",
    "ax-h": "ax",
    "em": "m",
    "nx": "n",
    "eng": "ng",
    "hv": "hh",
    **dict.fromkeys(("bcl", "dcl", "gcl", "pcl", "tcl", "kcl"), "sil"),
    **dict.fromkeys(("h#", "pau", "epi", "q"), "sil"),
}

# espeak-ng's English phoneme mnemonics (stress marks stripped) -> the 46 phones.
# British-only vowels go to their nearest ARPAbet vowel, as the CMU dictionary does.
ESPEAK_TO_PHONE: dict[str, str] = {
    # pauses and the glottal stop
    "_": "sil", "_:": "sil", "_|": "sil", "_!": "sil", "_^_": "sil", "?": "sil",
    # vowels
    "i:": "iy", "i": "iy", "i@": "iy", "i@3": "iy",
    "I": "ih", "IR": "ih", "I2": "ix", "I#": "ix",
    "E": "eh", "e": "eh", "e@": "eh",
    "a": "ae", "aa": "ae",
    "V": "ah", "VR": "ah",
    "@": "ax", "@2": "ax", "@5": "ax", "@-": "ax", "a#": "ax",
    "u:": "uw", "U": "uh", "U@": "uh",
    "A:": "aa", "A@": "aa", "0": "aa",
    "O:": "ao", "O": "ao", "O@": "ao", "O2": "ao", "o@": "ao",
    "eI": "ey", "aI": "ay", "aI@": "ay", "aI2": "ay", "aI3": "ay", "OI": "oy",
    "aU": "aw", "aU@": "aw", "oU": "ow", "o": "ow",
    "3:": "er", "3": "axr",
    # liquids and glides (";" is espeak's linking [j], "r-" its linking r)
    "l": "l", "@L": "el", "l-": "el", "r": "r", "r-": "r", "w": "w", "w#": "w", "j": "y", ";": "y",
    # nasals
    "m": "m", "m-": "m", "n": "n", "n-": "en", "N": "ng",
    # stops ("t#" is the American flap, "t[" a dental t)
    "b": "b", "d": "d", "t#": "dx", "g": "g", "p": "p", "t": "t", "t[": "t", "t2": "t",
    "k": "k", "x": "k",
    "tS": "ch", "dZ": "jh",
    "D": "dh", "z": "z", "Z": "zh", "v": "v", "f": "f", "T": "th", "s": "s", "S": "sh", "h": "hh",
}  # fmt: skip

_STRESS = "',%="  # espeak's stress and syllable marks, not part of the phoneme

# CMU / ARPAbet symbols (stress digit stripped, any case) that are not TIMIT symbols, and the
# unstressed vowels that are reduced in TIMIT's transcription (as the CMU dictionary writes them).
ARPABET_SPECIAL: dict[str, str] = {
    "ah0": "ax", "er0": "axr",  # unstressed AH / ER are TIMIT's ax / axr
    "sil": "sil", "sp": "sil", "spn": "sil",  # forced aligners' silence / pause / noise
}  # fmt: skip
ARPABET_PHONES = frozenset(
    "aa ae ah ao aw ay b ch d dh eh er ey f g hh ih iy jh k l m n ng ow oy p r s sh t th uh uw "
    "v w y z zh".split()
)  # the 39 CMU dictionary phones

#: Named symbol sets, in the order :func:`detect_source` tries them.
SOURCES: tuple[str, ...] = ("phone", "timit", "arpabet", "espeak")

#: A phone source: one of :data:`SOURCES` or a user map ``{symbol: phone}``.
Source = str | Mapping[str, str]


def phone_index(symbol: str, source: Source = "phone") -> int:
    """The index (0..45) of a phone given in one of the symbol sets (see :func:`to_phone`).

    Args:
      symbol: the symbol, e.g. ``"iy"``, ``"h#"`` (TIMIT), ``"IY1"`` (ARPAbet) or ``"'i:"``
        (espeak-ng).
      source: ``"phone"``, ``"timit"``, ``"arpabet"``, ``"espeak"`` or a ``{symbol: phone}`` map.

    Returns:
      An int in ``[0, 46)``.

    Raises:
      ValueError: an unknown source or a symbol not in the chosen table (the message names it).
    """
    return PHONE_INDEX[to_phone(symbol, source)]


def to_phone(symbol: str, source: Source = "phone") -> str:
    """Map a symbol to one of the 46 phone names.

    Args:
      symbol: one symbol of ``source``.
      source: ``"phone"`` (our 46 names, exact), ``"timit"`` (TIMIT's 61, any case),
        ``"arpabet"`` (the 39 CMU phones with or without a stress digit, any case, plus
        ``sil`` / ``sp`` / ``spn``; unstressed ``AH0`` / ``ER0`` are ``ax`` / ``axr``),
        ``"espeak"`` (espeak-ng mnemonics, stress marks stripped), or a user map
        ``{symbol: phone}`` (exact symbols; see :func:`read_phone_map`) whose values are phones
        of the 46 or TIMIT symbols.

    Returns:
      One of :data:`PHONES`.

    Raises:
      TypeError: ``symbol`` is not a str, or ``source`` neither a str nor a mapping.
      ValueError: an unknown source or symbol (the message names the symbol).
    """
    if not isinstance(symbol, str):
        raise TypeError(f"to_phone: symbol must be a str, got {type(symbol).__name__} {symbol!r}")
    if isinstance(source, Mapping):
        if symbol not in source:
            raise ValueError(f"to_phone: symbol must be a key of the phone map, got {symbol!r}")
        return _map_value(source[symbol], f"to_phone: the phone map's value for {symbol!r}")
    if not isinstance(source, str):
        raise TypeError(
            f"to_phone: source must be a str or a mapping, got {type(source).__name__} {source!r}"
        )
    if source == "phone":
        if symbol not in PHONE_INDEX:
            raise ValueError(f"to_phone: symbol must be one of the 46 phones, got {symbol!r}")
        return symbol
    if source == "timit":
        if symbol.lower() not in TIMIT_TO_PHONE:
            raise ValueError(f"to_phone: symbol must be one of TIMIT's 61 phones, got {symbol!r}")
        return TIMIT_TO_PHONE[symbol.lower()]
    if source == "arpabet":
        low = symbol.lower()
        if low in ARPABET_SPECIAL:
            return ARPABET_SPECIAL[low]
        base = low.rstrip("012")
        if base not in ARPABET_PHONES or len(low) - len(base) > 1:
            raise ValueError(
                f"to_phone: symbol must be an ARPAbet phone (optionally with a stress digit "
                f"0, 1 or 2), got {symbol!r}"
            )
        return TIMIT_TO_PHONE[base]
    if source == "espeak":
        stripped = symbol.lstrip(_STRESS)
        if stripped not in ESPEAK_TO_PHONE:
            raise ValueError(
                f"to_phone: symbol must be a known espeak-ng English phoneme, got {symbol!r}"
            )
        return ESPEAK_TO_PHONE[stripped]
    raise ValueError(
        f"to_phone: source must be one of {list(SOURCES)} or a phone map, got {source!r}"
    )


def _map_value(value: object, what: str) -> str:
    """A phone map's value as one of the 46 phones (a TIMIT symbol is folded first)."""
    if isinstance(value, str) and value in PHONE_INDEX:
        return value
    if isinstance(value, str) and value.lower() in TIMIT_TO_PHONE:
        return TIMIT_TO_PHONE[value.lower()]
    raise ValueError(f"{what} must be one of the 46 phones or a TIMIT symbol, got {value!r}")


def read_phone_map(path: str | os.PathLike) -> dict[str, str]:
    """Read a user phone map: one ``symbol phone`` pair a line.

    ``phone`` is one of the 46 phones or a TIMIT symbol (folded into the 46). Blank lines and
    lines starting with ``#`` are ignored; symbols are exact (case-sensitive).

    Args:
      path: a UTF-8 text file.

    Returns:
      ``{symbol: phone}`` with every value in :data:`PHONES`, usable as a ``source``.

    Raises:
      ValueError: a line that is not two fields, a value outside the set, a symbol given twice,
        or an empty map (the message names the file and the line).
      OSError: the file cannot be read.
    """
    table: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            where = f"read_phone_map: line {number} of {path}"
            if len(fields) != 2:
                raise ValueError(f"{where} must be 'symbol phone', got {line.rstrip()!r}")
            if fields[0] in table:
                raise ValueError(f"{where} must not repeat a symbol, got {fields[0]!r} again")
            table[fields[0]] = _map_value(fields[1], where)
    if not table:
        raise ValueError(f"read_phone_map: {path} must hold at least one 'symbol phone' line")
    return table


def known(symbol: str, source: Source) -> bool:
    """Whether :func:`to_phone` maps ``symbol`` from ``source`` (False instead of raising)."""
    try:
        to_phone(symbol, source)
    except ValueError:
        return False
    return True


def detect_source(symbols: Iterable[str]) -> str:
    """The first of :data:`SOURCES` that knows every symbol, else the one that knows the most.

    Args:
      symbols: the symbols found in a corpus's alignment files.

    Returns:
      One of :data:`SOURCES` (check the symbols with :func:`check_symbols` afterwards: the best
      source may still miss some).
    """
    symbols = sorted(set(symbols))
    counts = [sum(known(s, source) for s in symbols) for source in SOURCES]
    return SOURCES[int(np.argmax(counts))]  # argmax takes the first of equal counts


def check_symbols(where: Mapping[str, Sequence[str]], source: Source) -> None:
    """Raise one error listing every symbol ``source`` does not know, with the files using it.

    Args:
      where: ``{symbol: [file, ...]}`` for every symbol in a corpus.
      source: a named source or a user map (see :func:`to_phone`).

    Raises:
      ValueError: unknown symbols; the message lists each (sorted) with its file count and up
        to three file names, and says how to map them (a phone map file).
    """
    unknown = sorted(s for s in where if not known(s, source))
    if not unknown:
        return
    name = source if isinstance(source, str) else "the phone map"
    lines = []
    for s in unknown:
        files = sorted(str(f) for f in where[s])
        more = f" and {len(files) - 3} more" if len(files) > 3 else ""
        lines.append(f"  {s!r} in {len(files)} file(s): {', '.join(files[:3])}{more}")
    raise ValueError(
        f"phone symbols must all be known to {name!r}, got {len(unknown)} unknown symbol(s):\n"
        + "\n".join(lines)
        + "\nMap them with a phone map file ('symbol phone' lines; --phone-map FILE, or "
        "phones.read_phone_map(FILE) as source)."
    )


def state_to_phone(states: np.ndarray) -> np.ndarray:
    """Phone-level labels (46) from state-level labels (138).

    Args:
      states: int array of any shape, values in ``[0, 138)``.

    Returns:
      int32 array of the same shape, values in ``[0, 46)``.

    Raises:
      ValueError: a value out of range.
    """
    states = np.asarray(states)
    check_labels(states, NUM_STATES, "state_to_phone", "states")
    return (states // STATES_PER_PHONE).astype(np.int32)


def check_labels(labels: np.ndarray, num_classes: int, fn: str, arg: str) -> None:
    """Raise unless ``labels`` is an integer array with every value in ``[0, num_classes)``."""
    labels = np.asarray(labels)
    if not np.issubdtype(labels.dtype, np.integer):
        raise TypeError(f"{fn}: {arg} must have an integer dtype, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"{fn}: {arg} must be in [0, {num_classes}), got values in "
            f"[{int(labels.min())}, {int(labels.max())}]"
        )


def source_fingerprint(source: Source) -> str:
    """A short hash of a source's mapping, so cached labels follow any change to the tables."""
    import hashlib
    import json

    table: dict[str, object]
    if isinstance(source, Mapping):
        table = {"map": sorted(source.items())}
    else:
        table = {
            "name": source,
            "phones": PHONES,
            "timit": sorted(TIMIT_TO_PHONE.items()),
            "arpabet": sorted(ARPABET_SPECIAL.items()),
            "espeak": sorted(ESPEAK_TO_PHONE.items()),
        }
    return hashlib.sha256(json.dumps(table).encode()).hexdigest()[:16]
