"""The classical linear baseline of each pipeline, on exactly the pipeline's split.

* text: logistic regression on TF-IDF word + bigram features (scikit-learn, sparse; C = 30,
  or the dev-best of a grid: :data:`TEXT_C_GRID`);
* speech and images: softmax (multinomial logistic) regression on the inputs the models see,
  standardised with the training set's per-input mean and deviation (the 21x40 MFCC windows;
  the pixels), trained with the project's own loop (``jaxcnn.train.fit``) on the same Dataset,
  so the speech windows stay one gather from the frame bank and no ``(N, 840)`` copy exists.
  Measured against scikit-learn (docs/images.md, docs/audio.md: as good or better, 7x to 50x
  faster under load).

scikit-learn is imported inside :func:`tfidf_logistic_regression` only (an optional
dependency of the experiments, never of the library).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# Inverse L2 strength. On the main job's 11,949 glosses C = 10 / 30 / 100 gave dev accuracy
# 0.611 / 0.615 / 0.614 (test 0.631 / 0.631 / 0.630); C = 1 (and min_df 1) 0.507 (test 0.537).
# Each fit takes minutes under load: one value keeps the baseline inside the main job's budget;
# pass a grid to choose on dev.
TEXT_C_GRID = (30.0,)


def tfidf_logistic_regression(
    train_texts: Sequence[str],
    train_labels,
    test_texts: Sequence[str],
    dev_texts: Sequence[str] | None = None,
    dev_labels=None,
    *,
    c_grid: Sequence[float] = TEXT_C_GRID,
    min_df: int = 2,
    seed: int = 0,
) -> dict:
    """TF-IDF (words and word bigrams, sublinear tf) + multinomial logistic regression.

    Args:
      train_texts, test_texts: raw sentences; train_labels: ``(N_train,)`` ints.
      dev_texts, dev_labels: pick ``C`` from ``c_grid`` by dev accuracy; None: ``c_grid[0]``.
      seed: the solver's seed.

    Returns:
      ``{"model", "predictions" (N_test,) int, "C", "dev_accuracy" (or None), "features"}``.

    Raises:
      ValueError: labels not one per training text, empty texts, or an empty ``c_grid``.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    fn = "tfidf_logistic_regression"
    train_labels = np.asarray(train_labels)
    if train_labels.shape != (len(train_texts),) or len(train_texts) == 0:
        raise ValueError(
            f"{fn}: train_labels must have shape ({len(train_texts)},) and texts be non-empty, "
            f"got {train_labels.shape}"
        )
    if not c_grid:
        raise ValueError(f"{fn}: c_grid must be a non-empty sequence of numbers, got {c_grid!r}")
    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=min_df)
    x_train = vectorizer.fit_transform(train_texts)
    grid = list(c_grid) if dev_texts is not None else [c_grid[0]]
    best, best_acc = None, -1.0
    for c in grid:
        clf = LogisticRegression(C=c, max_iter=1000, random_state=seed).fit(x_train, train_labels)
        if dev_texts is None:
            best = clf
            break
        acc = float(np.mean(clf.predict(vectorizer.transform(dev_texts)) == np.asarray(dev_labels)))
        if acc > best_acc:
            best, best_acc = clf, acc
    return {
        "model": "TF-IDF words + bigrams, logistic regression",
        "predictions": best.predict(vectorizer.transform(test_texts)).astype(np.int64),
        "C": float(best.C),
        "dev_accuracy": best_acc if dev_texts is not None else None,
        "features": int(x_train.shape[1]),
    }


def softmax_regression(
    train,
    test,
    num_classes: int,
    mean: np.ndarray,
    std: np.ndarray,
    *,
    epochs: int = 20,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    seed: int = 0,
) -> dict:
    """Multinomial logistic regression on standardised inputs, trained by ``jaxcnn.train.fit``.

    Args:
      train, test: ``jaxcnn.train.Dataset`` s whose batches are ``{"x": (B, ...), "y": (B,)}``
        (NHWC images, ``(B, 21, 40)`` windows, any trailing shape).
      num_classes: output classes.
      mean, std: per-input statistics, the shape of one example's ``x`` (e.g. from
        :func:`input_stats`): the model sees ``(x - mean) / std`` flattened.
      epochs, batch_size, learning_rate: Adam with cosine decay, as the pipelines' models.

    Returns:
      ``{"model", "predictions" (N_test,) int, "params", "train_accuracy", "train_seconds"}``.
    """
    from jaxcnn.layers import Dense, Flatten, Sequential
    from jaxcnn.train import TrainConfig, fit, predict

    mean = np.asarray(mean, np.float32)
    scale = (1.0 / np.maximum(np.asarray(std, np.float32), 1e-6)).astype(np.float32)
    # leading batch axis spelled out: the tests run with jax_numpy_rank_promotion="raise"
    model = Sequential((lambda x: (x - mean[None]) * scale[None], Flatten(), Dense(num_classes)))
    config = TrainConfig(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        schedule="cosine",
        seed=seed,
        num_classes=num_classes,
        progress=False,
    )
    result = fit(model, train, None, config)
    logits = predict(model, result.variables, test)
    return {
        "model": "logistic regression (softmax, standardised inputs)",
        "predictions": np.asarray(logits).argmax(axis=1).astype(np.int64),
        "params": int(result.num_params),
        "train_accuracy": float(result.history[-1]["train_accuracy"]),
        "train_seconds": float(sum(h["seconds"] for h in result.history)),
    }


def input_stats(dataset, *, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
    """Per-input mean and standard deviation of a Dataset's ``x``, gathered ``chunk`` at a time.

    For the speech bank this is one ``(chunk, 21, 40)`` gather at a time (never all windows).

    Returns:
      ``(mean, std)``, float32, each the shape of one example's ``x``.

    Raises:
      ValueError: ``chunk`` < 1.
    """
    import jax.numpy as jnp

    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"input_stats: chunk must be a positive int, got {chunk!r}")
    total, total_sq, n = None, None, 0
    for start in range(0, dataset.size, chunk):
        idx = jnp.arange(start, min(start + chunk, dataset.size), dtype=jnp.int32)
        x = np.asarray(dataset.take(dataset.arrays, idx)["x"], np.float64)
        s, sq = x.sum(axis=0), (x * x).sum(axis=0)
        total = s if total is None else total + s
        total_sq = sq if total_sq is None else total_sq + sq
        n += x.shape[0]
    mean = total / n
    var = np.maximum(total_sq / n - mean * mean, 0.0)
    return mean.astype(np.float32), np.sqrt(var).astype(np.float32)


# Speech: 5 epochs of Adam 3e-3 on the 59,062 main-job frames: 0.584 test state accuracy in
# 18 s under load; 10 epochs 0.578 (the 116k weights start to overfit 59k frames); scikit-learn's
# lbfgs on the same standardised windows, 100 iterations: 0.546 in 967 s (docs/audio.md).
WINDOW_TRAINING = {"epochs": 5, "batch_size": 256, "learning_rate": 3e-3}


def windows_baseline(
    train, test, test_labels, test_units, num_classes: int, *, seed: int, training=None
) -> dict:
    """Logistic regression on the standardised 21x40 windows the speech models see.

    Args:
      train, test: the frame-bank Datasets (``audio.windows.to_dataset``).
      test_labels: ``(N,)`` state labels; test_units: ``(N,)`` utterance of every test frame
        (the bootstrap's units).
      training: overrides of :data:`WINDOW_TRAINING` (epochs, batch_size, learning_rate).

    Returns:
      ``{"model", "test_accuracy", "test_ci95", "params", "train_seconds"}``.
    """
    from jaxcnn.experiments import compare

    mean, std = input_stats(train)
    options = {**WINDOW_TRAINING, **(training or {})}
    fitted = softmax_regression(train, test, num_classes, mean, std, seed=seed, **options)
    return {
        "model": "logistic regression on 21x40 windows",
        **compare.score(fitted["predictions"], test_labels, test_units, seed=seed),
        "params": fitted["params"],
        "train_seconds": fitted["train_seconds"],
    }


def cached(path, key: dict, compute) -> dict:
    """``compute()``'s dict, stored at ``path`` as ``{"key", "row"}`` and reused for the same key.

    ``key`` must be JSON-able (a config as a dict); a stored row with another key is recomputed.
    """
    import json
    from pathlib import Path

    from jaxcnn.train import results

    path = Path(path)
    key = json.loads(json.dumps(key))
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):  # absent, unreadable or damaged: compute it again
        stored = None
    if isinstance(stored, dict) and stored.get("key") == key and "row" in stored:
        return stored["row"]
    row = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    results.write_json(path, {"key": key, "row": row})
    return row
