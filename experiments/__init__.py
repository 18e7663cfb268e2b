"""Runnable experiments: each is an importable `run(config, workdir)` plus a thin `main`.

They need the ``experiments`` extra (every front-end's dependencies, matplotlib, scikit-learn,
scikit-image, the espeak-ng loader): ``pip install 'jaxcnn[experiments]'``.
"""

from jaxcnn._extras import require

# Checked up front (without importing them) so a missing extra fails here, naming the fix.
require(
    "jaxcnn.experiments",
    "experiments",
    "librosa",
    "soundfile",
    "matplotlib",
    "sklearn",
    "skimage",
    "PIL",
    "tqdm",
    "espeakng_loader",
)
del require
