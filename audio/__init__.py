"""Speech front-end: MFCC / log-mel frames, frame labels from alignments, context windows.

Needs the ``audio`` extra (librosa, soundfile): ``pip install 'jaxcnn[audio]'``; without it
``import jaxcnn.audio`` raises an ImportError saying so. Modules (import the one you need; none is
imported here, so ``import jaxcnn.audio`` stays cheap):

* ``audio.features``: load WAV / FLAC / NIST SPHERE, 40 MFCC or log-mel (MFSC), deltas, CMVN,
  cached parallel extraction to ``.npz`` (entries: ``audio.cache``).
* ``audio.phones``: the 46-phone set, 138 states, TIMIT, ARPAbet, espeak-ng and user mappings.
* ``audio.corpus_folder``: a user's corpus folder (TIMIT layout or audio beside ``.phn``) and
  its deterministic splits; ``audio.sphere``: NIST SPHERE files; ``audio.demo_corpus``: a tiny
  TIMIT-layout corpus made with espeak-ng.
* ``audio.scoring``: frame accuracy (138 / 46 / 39), confusions, hybrid-HMM Viterbi, PER.
* ``audio.alignments``: TIMIT-style ``.phn`` files and frame labels.
* ``audio.espeak``: espeak-ng synthesis with phone alignments (optional, GPL tool).
* ``audio.corpus``: an offline corpus of WordNet glosses by many synthetic speakers.
* ``audio.windows``: the frame bank and the device-side 21x40 window gather.
* ``audio.models``: the notes' MLP and CNNs and our own CNN.

See ``docs/audio.md``.
"""

from jaxcnn._extras import require

# Checked up front (without importing them) so a missing extra fails here, naming the fix.
require("jaxcnn.audio", "audio", "librosa", "soundfile")
del require
