"""An offline speech corpus: WordNet glosses spoken by many espeak-ng speakers.

Each utterance is saved as an ordinary corpus file pair, a 16 kHz mono WAV and a TIMIT-style
``.phn`` (samples at 16 kHz, espeak-ng symbols), under ``root/{split}/{speaker}/{utt}.wav``,
with ``root/manifest.json`` listing every utterance. Any tool that reads WAV + ``.phn`` reads it.

Speakers: a *timbre* is a voice + variant (e.g. ``en-gb-x-rp+f2``); each speaker is a timbre with
its own rate and pitch. Splits are timbre-disjoint (hence speaker-disjoint): no test voice+variant
is ever heard in training, at any rate or pitch. Sentences are split-disjoint as well.

Determinism: espeak-ng jitters by a few samples between repeated calls in one process, but a
fresh process given the same calls gives identical audio. So speakers are grouped into fixed
shards (by index, independent of the number of workers) and each shard is synthesised, in order,
in a fresh "spawn" worker process; the leading and trailing silences come from a seeded RNG.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path

import numpy as np
from jaxcnn.audio import _pool

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
SHARD_SPEAKERS = 4  # speakers per worker process; fixed so output does not depend on workers
# Human-sounding variants (the rest of voices/!v are effects such as "Demonic" or "croak").
# Variants with "breath" (f2, f3, f5, ...) add unseeded noise, which breaks reproducibility.
VARIANTS = (
    *("", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8"),
    *("f1", "f4", "klatt", "klatt2", "klatt3"),
)
WORDNET_DIR = "/usr/share/wordnet"


@dataclasses.dataclass(frozen=True)
class CorpusConfig:
    """Size and seed of a corpus.

    Attributes:
      num_speakers: speakers in total (split by timbre into train / dev / test).
      utterances_per_speaker: sentences each speaker says.
      seed: everything random (speakers, sentences, silences, splits) derives from it.
      test_fraction, dev_fraction: shares of the timbres held out.
      min_chars, max_chars: sentence length range (characters).
    """

    num_speakers: int = 48
    utterances_per_speaker: int = 12
    seed: int = 0
    test_fraction: float = 0.15
    dev_fraction: float = 0.1
    min_chars: int = 25
    max_chars: int = 110


def hours_config(hours: float, seed: int = 0) -> CorpusConfig:
    """A config of about ``hours`` hours of speech (utterances average about 3.3 s)."""
    utterances = int(np.ceil(hours * 3600 / 3.3))
    speakers = 120
    return CorpusConfig(
        num_speakers=speakers, utterances_per_speaker=-(-utterances // speakers), seed=seed
    )


def build(root: str | os.PathLike, config: CorpusConfig = CorpusConfig(), *, workers: int = 2,
          progress: bool | None = None) -> dict:  # fmt: skip
    """Synthesise the corpus under ``root`` (cached: a matching manifest means nothing to do).

    Args:
      root: output directory (created).
      config: sizes and seed.
      workers: worker processes.
      progress: show a tqdm bar (None: only on a TTY).

    Returns:
      The manifest dict: ``config``, ``speakers`` (name -> split, voice, variant, rate, pitch),
      ``utterances`` (list of {"id", "split", "speaker", "wav", "phn", "text", "seconds"}),
      ``skipped`` (utterances that failed, with the reason), ``hours``.

    Raises:
      ValueError: bad sizes or fractions, or too few sentences.
      ImportError: espeakng_loader is not installed.
    """
    fn = "build"
    for name in ("num_speakers", "utterances_per_speaker"):
        value = getattr(config, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{fn}: config.{name} must be a positive int, got {value!r}")
    if not (
        0 < config.test_fraction < 1
        and 0 <= config.dev_fraction < 1
        and config.test_fraction + config.dev_fraction < 1
    ):
        raise ValueError(
            f"{fn}: config.test_fraction must be in (0, 1) and dev_fraction in [0, 1), summing "
            f"to < 1, got {config.test_fraction}, {config.dev_fraction}"
        )
    if not isinstance(workers, int) or workers < 1:
        raise ValueError(f"{fn}: workers must be a positive int, got {workers!r}")
    root = Path(root)
    manifest_path = root / "manifest.json"
    wanted = dataclasses.asdict(config)
    mapping = phone_mapping_fingerprint()
    manifest = read_manifest(manifest_path)
    if manifest is not None:
        if (
            manifest.get("config") == wanted
            and manifest.get("phone_mapping") == mapping
            and all((root / u["wav"]).exists() for u in manifest["utterances"])
        ):
            return manifest
    root.mkdir(parents=True, exist_ok=True)

    plan = make_plan(config)
    shards = [
        plan["jobs"][i : i + SHARD_SPEAKERS] for i in range(0, len(plan["jobs"]), SHARD_SPEAKERS)
    ]
    results = []
    # max_tasks_per_child=1: every shard starts in a fresh process (espeak-ng determinism).
    jobs = [(str(root), shard) for shard in shards]
    done = _pool.run(_synth_shard, jobs, workers, what="build", max_tasks_per_child=1)
    for shard_results in _progress(done, len(shards), progress, "synthesising"):
        results.extend(shard_results)
    utterances = [r for r in results if "error" not in r]
    skipped = [r for r in results if "error" in r]
    for r in skipped:
        log.warning("corpus: skipped %s: %s", r["id"], r["error"])
    if skipped:
        log.warning("corpus: skipped %d of %d utterances", len(skipped), len(results))
    manifest = {
        "config": wanted,
        "phone_mapping": mapping,
        "sample_rate": SAMPLE_RATE,
        "speakers": plan["speakers"],
        "utterances": sorted(utterances, key=lambda u: u["id"]),
        "skipped": skipped,
        "hours": sum(u["seconds"] for u in utterances) / 3600,
    }
    _write_text(manifest_path, json.dumps(manifest, indent=1))
    return manifest


def read_manifest(path: str | os.PathLike) -> dict | None:
    """The manifest at ``path``, or None when it is missing or damaged (then the corpus is rebuilt).

    A truncated or garbled ``manifest.json`` (an interrupted copy, a full disk) is logged as a
    warning naming the file, and treated as absent: :func:`build` writes a new one.
    """
    path = Path(path)
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(manifest, dict) or not isinstance(manifest.get("utterances"), list):
            raise ValueError("not a manifest object with an 'utterances' list")
        return manifest
    except (ValueError, UnicodeDecodeError) as e:  # JSONDecodeError is a ValueError
        log.warning("corpus: %s is damaged (%s); the corpus is built again", path, e)
        return None


def phone_mapping_fingerprint() -> str:
    """A hash of the espeak-ng -> phone mapping the ``.phn`` labels were written with.

    The manifest records it, so a corpus built before the mapping changed is rebuilt rather than
    reused with its old labels and skips.
    """
    from jaxcnn.audio import phones

    text = json.dumps(sorted(phones.ESPEAK_TO_PHONE.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def make_plan(config: CorpusConfig) -> dict:
    """Speakers, their splits and their sentences: a pure function of ``config``.

    Returns:
      {"speakers": {name: {...}}, "jobs": [(speaker dict, [(utt_id, text, lead_s, tail_s)])]}.

    Raises:
      ValueError: a split that has speakers but no sentences (too few WordNet sentences of
        ``config.min_chars`` .. ``config.max_chars`` characters).
    """
    from jaxcnn.audio.espeak import ENGLISH_VOICES

    rng = np.random.default_rng(config.seed)
    timbres = [(v, var) for v in ENGLISH_VOICES for var in VARIANTS]
    order = rng.permutation(len(timbres))
    timbres = [timbres[i] for i in order]
    # Timbre-disjoint split: the first timbres in the shuffled order are test, then dev.
    used = timbres[: min(len(timbres), config.num_speakers)]
    n_test = max(1, round(config.test_fraction * len(used)))
    n_dev = round(config.dev_fraction * len(used))
    split_of = {}
    for i, t in enumerate(used):
        split_of[t] = "test" if i < n_test else "dev" if i < n_test + n_dev else "train"

    sentences = wordnet_sentences(config.min_chars, config.max_chars)
    sentences = [sentences[i] for i in rng.permutation(len(sentences))]
    # Disjoint sentence pools per split, in proportion.
    pools = {"test": sentences[0::10], "dev": sentences[1::10]}
    pools["train"] = [s for i, s in enumerate(sentences) if i % 10 > 1]
    cursor = dict.fromkeys(pools, 0)
    for split in sorted({split_of[t] for t in used}):
        if not pools[split]:
            raise ValueError(
                f"make_plan: the {split} split must have sentences, got none of "
                f"{len(sentences)} sentences of {config.min_chars}..{config.max_chars} "
                "characters (too few sentences: widen min_chars / max_chars)"
            )

    speakers, jobs = {}, []
    for k in range(config.num_speakers):
        voice, variant = used[k % len(used)]
        split = split_of[(voice, variant)]
        rate = int(rng.integers(130, 231))
        pitch = int(rng.integers(30, 71))
        spk = {"voice": voice, "variant": variant, "rate": rate, "pitch": pitch, "split": split}
        name = f"s{k:03d}_{voice}{'+' + variant if variant else ''}_r{rate}_p{pitch}"
        spk["name"] = name
        speakers[name] = spk
        pool = pools[split]
        utts = []
        for j in range(config.utterances_per_speaker):
            text = pool[cursor[split] % len(pool)]
            cursor[split] += 1
            lead, tail = (float(x) for x in rng.uniform(0.1, 0.4, size=2))
            utts.append((f"{name}_u{j:03d}", text, lead, tail))
        jobs.append((spk, utts))
    return {"speakers": speakers, "jobs": jobs}


def wordnet_sentences(
    min_chars: int = 25, max_chars: int = 110, directory: str | os.PathLike = WORDNET_DIR
) -> list[str]:
    """English sentences: the first definition of every WordNet gloss, in file order.

    A ``data.*`` line (one not starting with two spaces) ends ``| gloss``; the gloss is
    ``definition; definition; "example"``. Only plain-ASCII definitions of the given length.

    Raises:
      ValueError: no ``data.*`` files in ``directory``.
    """
    out, seen = [], set()
    files = [Path(directory) / f"data.{p}" for p in ("noun", "verb", "adj", "adv")]
    files = [f for f in files if f.exists()]
    if not files:
        raise ValueError(
            f"wordnet_sentences: directory must hold WordNet data.* files, got {directory}"
        )
    for path in files:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                gloss = line.split("|", 1)[1]
                text = gloss.split(";")[0].split('"')[0].strip().strip("(").strip()
                if min_chars <= len(text) <= max_chars and text.isascii() and text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def _synth_shard(root: str, shard) -> list[dict]:
    """Synthesise a shard of speakers in order (runs in a fresh worker process)."""
    import scipy.signal
    from jaxcnn.audio import alignments, espeak, phones

    results = []
    for spk, utts in shard:
        speaker = espeak.Speaker(spk["voice"], spk["variant"], spk["rate"], spk["pitch"])
        folder = Path(root) / spk["split"] / spk["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for utt_id, text, lead_s, tail_s in utts:
            record = {"id": utt_id, "split": spk["split"], "speaker": spk["name"], "text": text}
            try:
                pcm, sr, segments = espeak.synthesize(text, speaker)
                y = scipy.signal.resample_poly(pcm.astype(np.float64) / 32768.0, SAMPLE_RATE, sr)
                segments = alignments.rescale(segments, sr, SAMPLE_RATE)
                segments[-1] = (segments[-1][0], len(y), segments[-1][2])  # cover the tail
                for _, _, symbol in segments:
                    phones.to_phone(symbol, "espeak")  # unknown symbol: skip this utterance
                y, segments = _add_silence(y, segments, lead_s, tail_s, utt_id)
                alignments.check_segments(segments, len(y), "build")
                wav = folder / f"{utt_id}.wav"
                phn = folder / f"{utt_id}.phn"
                _write_wav(wav, y)
                alignments.write_phn(phn, segments)
                record |= {
                    "wav": str(wav.relative_to(root)),
                    "phn": str(phn.relative_to(root)),
                    "seconds": len(y) / SAMPLE_RATE,
                }
            except (ValueError, RuntimeError) as e:
                record["error"] = str(e)
            results.append(record)
    return results


def _add_silence(y, segments, lead_s, tail_s, utt_id):
    """Pad with leading / trailing near-silence (seeded dither at about -66 dBFS) labelled "_"."""
    seed = int.from_bytes(utt_id.encode()[-8:].rjust(8, b"\0"), "little") % (2**32)
    rng = np.random.default_rng(seed)
    lead, tail = int(lead_s * SAMPLE_RATE), int(tail_s * SAMPLE_RATE)
    out = np.concatenate([np.zeros(lead), y, np.zeros(tail)])
    out += rng.normal(0.0, 5e-4, size=out.shape)
    shifted = [(s + lead, e + lead, p) for s, e, p in segments]
    total = len(out)
    return out, [(0, lead, "_")] + shifted + [(lead + len(y), total, "_")]


def _write_wav(path: Path, y: np.ndarray) -> None:
    import soundfile

    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    os.close(fd)
    soundfile.write(tmp, pcm, SAMPLE_RATE, subtype="PCM_16", format="WAV")
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)


def _progress(results, total, progress, desc):
    """Yield results in submission order (deterministic) with an optional bar."""
    import sys

    from tqdm import tqdm

    show = sys.stderr.isatty() if progress is None else progress
    with tqdm(total=total, desc=desc, disable=not show) as bar:
        for result in results:
            yield result
            bar.update(1)
