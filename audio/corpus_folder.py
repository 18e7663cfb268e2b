"""A user's own corpus folder: TIMIT layout or any tree of audio files beside ``.phn`` alignments.

An utterance is an audio file and the files beside it with the same name up to the first dot,
in any case: ``SA1.WAV`` (NIST SPHERE or RIFF; the content decides), ``SA1.PHN``, ``SA1.TXT``.
Audio is ``.wav``, ``.sph``, ``.flac`` or ``.wav.wav`` (a converted TIMIT copy), tried in that
order. The speaker is the name of the folder holding the files. The id is the path below the
root without the extension (``TRAIN/DR1/FCJF0/SI1027``), so it is unique.

**TIMIT layout** (a ``TRAIN`` and a ``TEST`` folder at the top, any case): ``TEST`` is the test
split, ``TRAIN`` the training split, and dev is carved out of ``TRAIN`` by the rule below. The
``SA1`` / ``SA2`` sentences, read by every speaker, are left out as in the standard recipe (else
the same text is in every split), unless ``keep_sa=True``.

**Any other layout**: test and dev are carved out of all utterances by the rule below.

**The rule** (deterministic, independent of file order and of the machine): the groups are
speakers (``split="speakers"``: held-out speakers) or sentences (``split="sentences"``: each
utterance needs a transcript ``.txt`` beside it; its text, lower-cased, punctuation dropped,
TIMIT's leading sample numbers removed, is the group, so every reading of a sentence lands in
one split). Groups are ordered by the SHA-256 of their name; the first
``max(1, round(test_fraction * n))`` are test, the next ``max(1, round(dev_fraction * n))``
dev, the rest train. For the TIMIT layout only dev is carved (from ``TRAIN``'s groups).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
from pathlib import Path

AUDIO_SUFFIXES = (".wav", ".sph", ".flac", ".wav.wav")
SPLITS = ("speakers", "sentences")


@dataclasses.dataclass(frozen=True)
class Utterance:
    """One utterance of a corpus folder.

    Attributes:
      id: path below the root without extension, ``/``-separated.
      audio: the audio file; phn: its ``.phn`` alignment or None; text: the transcript or None.
      speaker: the folder name holding it.
      split: "train", "dev" or "test".
    """

    id: str
    audio: str
    phn: str | None
    text: str | None
    speaker: str
    split: str


def is_timit_layout(root: str | os.PathLike) -> bool:
    """Whether ``root`` holds a ``TRAIN`` and a ``TEST`` folder (any case)."""
    names = {p.name.lower() for p in Path(root).iterdir() if p.is_dir()}
    return {"train", "test"} <= names


def read_corpus(
    root: str | os.PathLike,
    *,
    split: str = "speakers",
    dev_fraction: float = 0.1,
    test_fraction: float = 0.2,
    keep_sa: bool = False,
) -> list[Utterance]:
    """Find every utterance under ``root`` and give it a split (see the module docstring).

    Args:
      root: the corpus folder.
      split: "speakers" (held-out speakers) or "sentences" (held-out sentence texts).
      dev_fraction, test_fraction: shares of the groups held out (test: non-TIMIT layouts only).
      keep_sa: keep TIMIT's SA1 / SA2 sentences.

    Returns:
      Utterances sorted by id; utterances without a ``.phn`` are included (``phn`` None).

    Raises:
      ValueError: ``root`` not a folder, a bad ``split`` or fraction, no audio files, too few
        speakers / sentences for three non-empty splits, or (``split="sentences"``)
        utterances without a transcript (the message names the first few).
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"read_corpus: root must be a folder, got {str(root)!r}")
    if split not in SPLITS:
        raise ValueError(f"read_corpus: split must be one of {list(SPLITS)}, got {split!r}")
    for name, value in (("dev_fraction", dev_fraction), ("test_fraction", test_fraction)):
        if not (isinstance(value, (int, float)) and 0 < value < 1):
            raise ValueError(f"read_corpus: {name} must be in (0, 1), got {value!r}")
    found = _find(root)
    if not found:
        raise ValueError(
            f"read_corpus: {root} must hold audio files ({', '.join(AUDIO_SUFFIXES)}), got none"
        )
    timit = is_timit_layout(root)
    if timit and not keep_sa:
        found = [f for f in found if Path(f["id"]).name.lower() not in ("sa1", "sa2")]
    if split == "sentences":
        missing = [f["id"] for f in found if f["text"] is None]
        if missing:
            raise ValueError(
                f"read_corpus: split='sentences' needs a transcript .txt beside every "
                f"utterance, got {len(missing)} without, e.g. {', '.join(missing[:5])}"
            )
    group = "text" if split == "sentences" else "speaker"
    if timit:
        top = {f["id"]: f["id"].split("/")[0].lower() for f in found}
        train = [f for f in found if top[f["id"]] == "train"]
        dev_groups = _carve({f[group] for f in train}, {"dev": dev_fraction}, "dev of TRAIN")
        split_of = {
            f["id"]: "test" if top[f["id"]] == "test" else dev_groups.get(f[group], "train")
            for f in found
            if top[f["id"]] in ("train", "test")
        }
    else:
        shares = {"test": test_fraction, "dev": dev_fraction}
        held = _carve({f[group] for f in found}, shares, f"{split} of {root}")
        split_of = {f["id"]: held.get(f[group], "train") for f in found}
    return [
        Utterance(f["id"], f["audio"], f["phn"], f["raw_text"], f["speaker"], split_of[f["id"]])
        for f in found
        if f["id"] in split_of
    ]


def _carve(groups: set[str], shares: dict[str, float], what: str) -> dict[str, str]:
    """{group: held-out split} for the first groups in SHA-256 order (the rest are train)."""
    ordered = sorted(groups, key=lambda g: (hashlib.sha256(g.encode()).hexdigest(), g))
    counts = {name: max(1, round(share * len(ordered))) for name, share in shares.items()}
    if sum(counts.values()) >= len(ordered):
        raise ValueError(
            f"read_corpus: the {what} split needs more than {sum(counts.values())} groups "
            f"(speakers or sentences) to leave some for training, got {len(ordered)}"
        )
    out, i = {}, 0
    for name, count in counts.items():
        for g in ordered[i : i + count]:
            out[g] = name
        i += count
    return out


def normalise_text(text: str) -> str:
    """A transcript as a sentence key: TIMIT's leading ``start end`` numbers dropped,
    lower-cased, only letters, digits and apostrophes kept, single spaces."""
    words = text.split()
    if len(words) >= 2 and words[0].isdigit() and words[1].isdigit():
        words = words[2:]
    cleaned = re.sub(r"[^a-z0-9' ]", " ", " ".join(words).lower())
    return " ".join(cleaned.split())


def _find(root: Path) -> list[dict]:
    """Every utterance (audio file + siblings) under root, sorted by id."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        by_stem: dict[str, dict[str, str]] = {}  # "sa1" -> {".wav": "SA1.WAV", ...}
        for name in files:
            stem, _, suffix = name.partition(".")
            if stem and not name.startswith("."):
                by_stem.setdefault(stem.lower(), {})["." + suffix.lower()] = name
        for _, files_of in sorted(by_stem.items()):
            audio = next((files_of[s] for s in AUDIO_SUFFIXES if s in files_of), None)
            if audio is None:
                continue
            stem = audio.partition(".")[0]
            base = Path(folder)
            phn = files_of.get(".phn")
            raw_text = None
            if ".txt" in files_of:
                raw_text = (base / files_of[".txt"]).read_text(encoding="utf-8", errors="replace")
            rel = (base / stem).relative_to(root).as_posix()
            found.append(
                {
                    "id": rel,
                    "audio": str(base / audio),
                    "phn": str(base / phn) if phn else None,
                    "raw_text": raw_text.strip() if raw_text is not None else None,
                    "text": normalise_text(raw_text) if raw_text is not None else None,
                    "speaker": base.name if base != root else "",
                }
            )
    return sorted(found, key=lambda f: f["id"])
