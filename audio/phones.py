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


def phone_index(symbol: str, source: str = "phone") -> int:
    """The index (0..45) of a phone given as one of ours, a TIMIT symbol or an espeak-ng mnemonic.

    Args:
      symbol: the symbol, e.g. ``"iy"``, ``"h#"`` (TIMIT) or ``"'i:"`` (espeak-ng).
      source: ``"phone"`` (our 46 names), ``"timit"`` (TIMIT's 61) or ``"espeak"``.

    Returns:
      An int in ``[0, 46)``.

    Raises:
      ValueError: an unknown source or a symbol not in the chosen table (the message names it).
    """
    return PHONE_INDEX[to_phone(symbol, source)]


def to_phone(symbol: str, source: str = "phone") -> str:
    """Map a symbol from ``source`` ("phone", "timit" or "espeak") to one of the 46 phone names.

    Raises:
      TypeError: ``symbol`` is not a str.
      ValueError: an unknown source or symbol (the message names the symbol).
    """
    if not isinstance(symbol, str):
        raise TypeError(f"to_phone: symbol must be a str, got {type(symbol).__name__} {symbol!r}")
    if source == "phone":
        if symbol not in PHONE_INDEX:
            raise ValueError(f"to_phone: symbol must be one of the 46 phones, got {symbol!r}")
        return symbol
    if source == "timit":
        if symbol not in TIMIT_TO_PHONE:
            raise ValueError(f"to_phone: symbol must be one of TIMIT's 61 phones, got {symbol!r}")
        return TIMIT_TO_PHONE[symbol]
    if source == "espeak":
        stripped = symbol.lstrip(_STRESS)
        if stripped not in ESPEAK_TO_PHONE:
            raise ValueError(
                f"to_phone: symbol must be a known espeak-ng English phoneme, got {symbol!r}"
            )
        return ESPEAK_TO_PHONE[stripped]
    raise ValueError(
        f"to_phone: source must be one of ['phone', 'timit', 'espeak'], got {source!r}"
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
