"""Speech with phone alignments from espeak-ng, through ``ctypes`` and ``espeakng_loader``.

espeak-ng (GPL-3.0+) is an optional tool loaded at run time to make a corpus; nothing else in
the library needs it. The C library is process-global state (one voice, one callback), so this
module keeps one engine per process. Repeated synthesis inside one process jitters by a few
samples; a fresh process making the same calls in the same order gives identical audio, which is
how :mod:`audio.corpus` gets determinism (one fresh worker process per shard).

Phoneme events (type 7, enabled by the init option 0x1) carry the phoneme mnemonic and its start
sample; a phone lasts until the next event starts, the last until the end of the audio.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import os

import numpy as np
from jaxcnn.audio.alignments import Segment

from jaxcnn._extras import optional_import

ENGLISH_VOICES = (
    "en-us",
    "en",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_PHONEME_EVENTS = 0x1
_EVENT_END, _EVENT_PHONEME = 0, 7
_PARAM_RATE, _PARAM_PITCH = 1, 3
_POS_CHARACTER, _CHARS_UTF8 = 1, 1


@dataclasses.dataclass(frozen=True)
class Speaker:
    """One synthetic speaker: a voice, a variant, a speaking rate and a pitch.

    Attributes:
      voice: one of :data:`ENGLISH_VOICES`.
      variant: a file name in ``espeak-ng-data/voices/!v`` (e.g. "m3", "f2", "klatt4") or "".
      rate: words per minute, 80..450.
      pitch: base pitch 0..99 (50 is the voice's default).
    """

    voice: str = "en-us"
    variant: str = ""
    rate: int = 175
    pitch: int = 50

    @property
    def name(self) -> str:
        v = f"{self.voice}+{self.variant}" if self.variant else self.voice
        return f"{v}_r{self.rate}_p{self.pitch}"


class _Event(ctypes.Structure):
    # espeak_EVENT from speak_lib.h; 40 bytes on 64-bit Linux.
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("name", ctypes.c_char * 8),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


def variants() -> tuple[str, ...]:
    """The voice variants this espeak-ng install ships (names in ``voices/!v``)."""
    return tuple(sorted(os.listdir(os.path.join(_data_path(), "voices", "!v"))))


def synthesize(text: str, speaker: Speaker = Speaker()) -> tuple[np.ndarray, int, list[Segment]]:
    """Speak ``text`` and return the audio with its phone alignment.

    Args:
      text: English text (UTF-8), non-empty.
      speaker: voice, variant, rate and pitch.

    Returns:
      ``(audio, sample_rate, segments)``: int16 ``(num_samples,)`` PCM at the engine's rate
      (22050 Hz), and contiguous ``(start, end, espeak_symbol)`` segments covering
      ``[0, num_samples)`` (symbols keep their stress marks; map them with
      ``audio.phones.to_phone(s, "espeak")``).

    Raises:
      TypeError / ValueError: empty text, an unknown voice or variant, rate or pitch out of range.
      ImportError: espeakng_loader is not installed (``pip install 'jaxcnn[corpus]'``).
      RuntimeError: espeak-ng refuses the voice or produces no audio.
    """
    fn = "synthesize"
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{fn}: text must be a non-empty str, got {text!r}")
    _check_speaker(speaker, fn)
    engine = _engine()
    return engine.speak(text, speaker)


def _check_speaker(speaker: Speaker, fn: str) -> None:
    if speaker.voice not in ENGLISH_VOICES:
        raise ValueError(
            f"{fn}: voice must be one of {list(ENGLISH_VOICES)}, got {speaker.voice!r}"
        )
    # espeak-ng silently accepts an unknown variant, so check the data directory ourselves.
    if speaker.variant and speaker.variant not in variants():
        raise ValueError(
            f"{fn}: variant must be a file in espeak-ng-data/voices/!v, got {speaker.variant!r}"
        )
    if not (isinstance(speaker.rate, int) and 80 <= speaker.rate <= 450):
        raise ValueError(f"{fn}: rate must be an int in [80, 450], got {speaker.rate!r}")
    if not (isinstance(speaker.pitch, int) and 0 <= speaker.pitch <= 99):
        raise ValueError(f"{fn}: pitch must be an int in [0, 99], got {speaker.pitch!r}")


def _loader():
    # espeak-ng (GPL-3.0+) comes from the corpus extra; only synthesis needs it.
    return optional_import("espeakng_loader", "jaxcnn.audio.espeak", "corpus")


def _data_path() -> str:
    espeakng_loader = _loader()

    return espeakng_loader.get_data_path()


class _Engine:
    """The process's espeak-ng library, initialised once, with a callback that collects output."""

    def __init__(self):
        espeakng_loader = _loader()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
            ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        self.sample_rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, _data_path().encode(), _INIT_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise RuntimeError(f"synthesize: espeak_Initialize failed, got {self.sample_rate}")
        self.pcm: list[np.ndarray] = []
        self.events: list[tuple[int, str]] = []
        # The C library keeps only a raw pointer: hold the ctypes object or it is collected.
        self._callback = _CALLBACK(self._collect)
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, num_samples, events) -> int:
        if num_samples > 0:
            self.pcm.append(np.ctypeslib.as_array(wav, (num_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_END:
            if events[i].type == _EVENT_PHONEME:
                self.events.append((events[i].sample, events[i].name.decode("ascii", "replace")))
            i += 1
        return 0  # 0 = keep synthesising

    def speak(self, text: str, speaker: Speaker):
        voice = f"{speaker.voice}+{speaker.variant}" if speaker.variant else speaker.voice
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"synthesize: espeak-ng refused voice {voice!r}")
        self.lib.espeak_SetParameter(_PARAM_RATE, speaker.rate, 0)
        self.lib.espeak_SetParameter(_PARAM_PITCH, speaker.pitch, 0)
        self.pcm, self.events = [], []
        data = text.encode("utf-8") + b"\0"
        self.lib.espeak_Synth(data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if not self.pcm:
            raise RuntimeError(f"synthesize: espeak-ng produced no audio for {text!r}")
        audio = np.concatenate(self.pcm)
        return audio, self.sample_rate, _segments(self.events, len(audio))


def _segments(events: list[tuple[int, str]], num_samples: int) -> list[Segment]:
    """Contiguous segments from phoneme start events; zero-length phones are dropped."""
    bounds = [min(max(s, 0), num_samples) for s, _ in events] + [num_samples]
    segments = []
    if not events or bounds[0] > 0:
        segments.append((0, bounds[0] if events else num_samples, "_"))
    for i, (_, symbol) in enumerate(events):
        if bounds[i + 1] > bounds[i]:
            segments.append((bounds[i], bounds[i + 1], symbol))
    return segments


@functools.lru_cache(maxsize=1)
def _engine() -> _Engine:
    return _Engine()
