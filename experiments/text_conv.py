"""WordNet glosses: 1D convolutions over word vectors vs bag-of-embeddings and window MLPs.

    python -m jaxcnn.experiments.text_conv [--workdir runs/text] [--quick | --full] [--epochs N]

Two tasks on the same real corpus (WordNet 3.0 glosses, see ``text.datasets``):

* classification: which of the 45 lexicographer files (noun.animal, verb.motion, ...) a
  gloss defines; a bag-of-embeddings MLP vs Kim (2014) sentence CNNs with random, static
  (skip-gram), fine-tuned (skip-gram) and two-channel embeddings;
* next-word prediction: the notes' ``(L, 100) -> (L, 100)`` width-5 convolution, made causal
  and stacked, vs a fixed-window MLP of about the same size, as test perplexity.

Word vectors for the static / two-channel models are trained first on the training glosses
with skip-gram + negative sampling through the same training loop (``text.skipgram``). Also
reported: the notes' dense-vs-conv parameter count from real modules (``jax.eval_shape``, no
allocation), throughput, and XLA compilations (one per bucket, whatever the epoch count).

Default: the main job's budget (a few minutes on 2 cores). ``--full``: every gloss, more
epochs. ``--quick``: a few hundred glosses, tiny models (seconds; what the tests run).
Writes ``results.json``, ``results.md``, ``learning_curves.png``, ``vocab.json`` and per-model
``metrics.jsonl`` / ``curves.png`` (from ``fit``); on many processes (``jaxcnn.train.launch``)
process 0 writes them all (`jaxcnn.train.processes.is_writer`), nothing here is read back
within a run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import time
import warnings
from pathlib import Path

import numpy as np
from jaxcnn.experiments import compare, protocol
from jaxcnn.text.datasets import (
    LEXNAMES,
    bucket_datasets,
    encode_examples,
    read_synonyms,
    read_wordnet,
    split_examples,
    token_dataset,
)
from jaxcnn.text.sequences import bucket_sequences, pad_to
from jaxcnn.text.vocab import Vocabulary, build_vocabulary

from jaxcnn import _durable
from jaxcnn._figure import new_figure, save_figure
from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.processes import is_writer

CLASSIFIERS = ("bag_of_embeddings", "kim_rand", "kim_static", "kim_nonstatic", "kim_two_channel")
# The accuracy-vs-parameters sweep (issue 19): name -> (family, embed_dim, hidden / features).
# The 20,000-word embedding table dominates the count, so the sizes scale the word vectors too.
# Main job: 3 sizes per family (about 34x in parameters); --full adds a 4th each.
SWEEP_MODELS = {
    "bag_e3": ("MLP", 3, 16), "bag_e16": ("MLP", 16, 64), "bag_e40": ("MLP", 40, 128),
    "bag_of_embeddings": ("MLP", None, None),
    "kim_rand_e3": ("CNN", 3, 8), "kim_rand_e16": ("CNN", 16, 32), "kim_rand_e40": ("CNN", 40, 64),
    "kim_rand": ("CNN", None, None),
}  # fmt: skip
SWEEP = ("bag_e3", "bag_e16", "bag_of_embeddings", "kim_rand_e3", "kim_rand_e16", "kim_rand")
FULL_SWEEP = ("bag_e3", "bag_e16", "bag_e40", "bag_of_embeddings", "kim_rand_e3", "kim_rand_e16",
              "kim_rand_e40", "kim_rand")  # fmt: skip
# Families for "which kind of model is best" (the language models are not ranked).
FAMILIES = {"bag_of_embeddings": "MLP", **{n: "CNN" for n in CLASSIFIERS if n.startswith("kim")},
            **{n: v[0] for n, v in SWEEP_MODELS.items()}}  # fmt: skip
# The recorded --full run the main job's ranking is compared with (issue 26; docs/text.md).
FULL_RUN = {
    "source": "docs/text.md: `--full --learning-rates 1e-3`, 2026-12-07, 10757d1 (protocol; "
    "linear = scikit-learn TF-IDF words + bigrams)",
    "ranking": {"CNN": 0.8188, "linear": 0.7554, "MLP": 0.7208},
}
LANGUAGE_MODELS = ("causal_conv_lm", "window_mlp_lm")
PROBES = ("dog", "water", "run", "red", "music", "king", "quickly", "disease")


@dataclasses.dataclass(frozen=True)
class TextConfig:
    wordnet_dir: str | None = None  # None: /usr/share/wordnet (or give NLTK's folder)
    # None: every training gloss. 40,000 x 4 epochs (was 12,000 x 3): the size from which the
    # Kim CNN's interval lies above the TF-IDF baseline, as at --full (docs/text.md, issue 26).
    train_examples: int | None = 40000
    eval_examples: int | None = 4000  # dev and test each; None: all
    min_freq: int = 2
    max_vocab: int = 20000
    lengths: tuple[int, ...] = (16, 32, 64)
    too_long: str = "truncate"
    embed_dim: int = 100
    features: int = 100
    widths: tuple[int, ...] = (3, 4, 5)
    hidden: int = 256
    dropout: float = 0.5
    # kim_static (frozen skip-gram vectors: 0.617 at this size, below the TF-IDF baseline, as
    # its vectors come from a small corpus) is left to --full and --classifiers: the main job's
    # 15 minutes go to the models that decide the ranking.
    classifiers: tuple[str, ...] = ("bag_of_embeddings", "kim_rand", "kim_two_channel")
    sweep: tuple[str, ...] = SWEEP  # the accuracy-vs-parameters sweep (SWEEP_MODELS)
    # the classifiers' comparison protocol (experiments.protocol): at most `epochs` epochs
    epochs: int = 4
    patience: int = 2
    learning_rates: tuple[float, ...] = (1e-3,)
    seeds: int = 1
    batch_size: int = 64
    learning_rate: float = 1e-3  # the language models' (no dev set: a fixed budget)
    vectors_path: str | None = None  # a GloVe / word2vec text file instead of skip-gram
    # skip-gram
    sg_pairs: int | None = 400_000
    sg_window: int = 5
    sg_negatives: int = 5
    sg_epochs: int = 2
    sg_batch_size: int = 1024
    sg_learning_rate: float = 3e-3
    # next-word prediction
    language_models: tuple[str, ...] = LANGUAGE_MODELS
    lm_vocab: int = 2000
    lm_train: int | None = 10000
    lm_lengths: tuple[int, ...] = (16, 32)
    lm_depth: int = 2
    lm_epochs: int = 2
    seed: int = 0


def get_config(quick: bool = False) -> TextConfig:
    """The main job's default (minutes on 2 cores), or ``quick``: seconds, for the tests."""
    if not quick:
        return TextConfig()
    return TextConfig(
        train_examples=600, eval_examples=200, max_vocab=800, lengths=(16, 48), embed_dim=16,
        features=8, widths=(3, 5), hidden=16, classifiers=("bag_of_embeddings", "kim_two_channel"),
        sweep=("bag_of_embeddings", "kim_two_channel"), epochs=2, patience=1, batch_size=32,
        sg_pairs=4000, sg_epochs=1, sg_batch_size=256, lm_vocab=200,
        lm_train=300, lm_lengths=(48,), lm_depth=1, lm_epochs=1,
    )  # fmt: skip


def full_config() -> TextConfig:
    """Every gloss, the full vocabulary, at most 12 epochs, a 3-value learning-rate grid.

    With a one-value grid (``--learning-rates 1e-3``) the five classifiers, the 8-model sweep,
    the TF-IDF baseline and the two language models took 55 minutes on 2 cores (AMD Zen 5)
    shared with other runs (2026-12-07, docs/text.md); the grid triples the classifiers' part.
    """
    return TextConfig(
        train_examples=None, eval_examples=None, max_vocab=40000, classifiers=CLASSIFIERS,
        epochs=12, patience=3, learning_rates=(5e-4, 1e-3, 2e-3), sweep=FULL_SWEEP, sg_pairs=None,
        sg_epochs=3, lm_vocab=5000, lm_train=None, lm_lengths=(16, 32, 64), lm_epochs=5,
    )  # fmt: skip


@locks_workdir
def run(config: TextConfig, workdir: str, *, overwrite: bool = False) -> dict:
    """Train every model of ``config``; returns the summary with ``"rows"`` (see DESIGN.md).

    A finished run (``results.json`` with the same config) is returned as it is.
    ``overwrite``: a model folder holding a run of another config starts afresh (`fit`'s
    ``overwrite``); else `fit` raises `ProvenanceError`.
    """
    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.asdict(config)
    old = _read_json(out / "results.json")
    if old is not None and old.get("config") == json.loads(json.dumps(cfg)):
        return old

    from jaxcnn.train import results

    start = time.perf_counter()
    data = load_data(config)
    if is_writer():
        data["vocab"].save(out / "vocab.json")
    rows, histories = [], {}
    vectors, skipgram, loaded = None, None, None
    if config.vectors_path is not None:
        from jaxcnn.text.embeddings import load_vectors

        vectors, stats = load_vectors(config.vectors_path, data["vocab"], dim=config.embed_dim)
        loaded = dataclasses.asdict(stats)
    elif any(n != "kim_rand" and n.startswith("kim") for n in config.classifiers):
        vectors, skipgram = train_skipgram(config, data, out / "skipgram", overwrite)
    plan = protocol_of(config)
    models, correct = {}, {}
    for name in dict.fromkeys((*config.classifiers, *config.sweep)):  # table, then the sweep
        row, histories[name], models[name], correct[name] = fit_classifier(
            name, config, data, vectors, out / name, overwrite
        )
        rows.append(row)
    baseline = compare.baseline_score(data["labels"]["train"], data["labels"]["test"],
                                      seed=config.seed)  # fmt: skip
    linear = linear_baseline(config, data)
    rows = compare.mark_rows(rows, baseline["test_ci95"])
    if config.language_models:
        lm_data = load_lm_data(config, data)
        for name in config.language_models:
            row, histories[name] = fit_language_model(name, config, lm_data, out / name, overwrite)
            rows.append(row)
    summary = {
        "config": cfg,
        "rows": rows,
        "dense_vs_conv": dense_vs_conv(),
        "data": data["stats"],
        "skipgram": skipgram,
        "loaded_vectors": loaded,
        "baseline": baseline["test_accuracy"],
        "baseline_ci95": baseline["test_ci95"],
        "baseline_linear": linear,
        "ranking": compare.family_ranking(rows, FAMILIES, linear),
        **protocol.summary_fields(
            plan, models, correct, config.sweep, reference="bag_of_embeddings", seed=config.seed
        ),  # fmt: skip
        "seconds": time.perf_counter() - start,
        "code_version": results.code_version(),
        "provenance": results.provenance(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }
    results.write_json(out / "results.json", summary)
    results.write_text(out / "results.md", markdown(summary))
    plot_learning_curves(histories, out / "learning_curves.png",
                         {"linear baseline": linear["test_accuracy"],
                          "majority class": baseline["test_accuracy"]})  # fmt: skip
    protocol.write_accuracy_vs_params(
        summary["sweep"], out / "accuracy_vs_params.png",
        {"majority class": baseline["test_accuracy"], "linear baseline": linear["test_accuracy"]},
        f"WordNet glosses ({data['stats']['examples']['train']:,} training)",
    )  # fmt: skip
    return summary


def protocol_of(config: TextConfig) -> protocol.Protocol:
    """The classifiers' comparison protocol of ``config`` (shared by every classifier)."""
    return protocol.Protocol(config.epochs, config.patience, config.learning_rates, config.seeds)


# --- data ------------------------------------------------------------------------------------


def load_data(config: TextConfig) -> dict:
    """WordNet glosses -> vocabulary -> training buckets, dev set (one length), test buckets."""
    train, dev, test = split_examples(read_wordnet(config.wordnet_dir))
    rng = np.random.default_rng(config.seed)
    train = _subset(train, config.train_examples, rng)
    dev = _subset(dev, config.eval_examples, rng)
    test = _subset(test, config.eval_examples, rng)
    vocab = build_vocabulary((e.text for e in train), min_freq=config.min_freq,
                             max_size=config.max_vocab)  # fmt: skip
    seqs, labels, enc, texts = {}, {}, {}, {}
    for split, items in (("train", train), ("dev", dev), ("test", test)):
        seqs[split], labels[split], enc[split] = encode_examples(items, vocab)
        # the raw text of exactly the examples the models see (for the TF-IDF baseline)
        texts[split] = [e.text for e in items if encode_examples([e], vocab)[2].kept]
    train_sets, train_stats = bucket_datasets(
        seqs["train"], labels["train"], config.lengths, too_long=config.too_long,
        min_count=config.batch_size,
    )  # fmt: skip
    # dev: one length, so the per-epoch evaluation compiles once (padding changes nothing)
    ids, mask = pad_to(seqs["dev"], config.lengths[-1])
    dev_set = token_dataset(ids, mask, labels["dev"])
    test_sets, test_stats = bucket_datasets(
        seqs["test"], labels["test"], config.lengths, too_long=config.too_long
    )
    stats = {
        "examples": {k: len(v) for k, v in (("train", train), ("dev", dev), ("test", test))},
        "vocab_size": len(vocab),
        "dropped": {k: dataclasses.asdict(v) for k, v in enc.items()},
        "train_buckets": dataclasses.asdict(train_stats),
        "test_buckets": dataclasses.asdict(test_stats),
        "classes": len(LEXNAMES),
    }
    return {"vocab": vocab, "seqs": seqs, "labels": labels, "texts": texts, "train": train_sets,
            "dev": dev_set, "test": test_sets, "stats": stats}  # fmt: skip


def load_lm_data(config: TextConfig, data: dict) -> dict:
    """Next-word prediction on the same glosses, with a smaller vocabulary (softmax cost)."""
    vocab = data["vocab"]
    lm_vocab = Vocabulary(vocab.tokens[: config.lm_vocab], vocab.counts[: config.lm_vocab])
    remap = np.asarray([lm_vocab.id(t) for t in vocab.tokens], np.int32)  # cut words -> UNK
    rng = np.random.default_rng(config.seed + 1)
    train = [remap[s] for s in data["seqs"]["train"] if len(s) >= 2]
    train = [train[i] for i in np.sort(rng.permutation(len(train))[: config.lm_train or None])]
    test = [remap[s] for s in data["seqs"]["test"] if len(s) >= 2]

    def datasets(seqs, min_count):
        buckets, stats = bucket_sequences(seqs, config.lm_lengths, too_long=config.too_long,
                                          min_count=min_count)  # fmt: skip
        out = []
        for b in buckets:
            y = np.concatenate([b.ids[:, 1:], np.zeros_like(b.ids[:, :1])], axis=1)
            w = np.concatenate([b.mask[:, 1:], np.zeros_like(b.mask[:, :1])], axis=1)
            out.append(token_dataset(b.ids, b.mask, y, w.astype(np.float32)))
        return out, dataclasses.asdict(stats)

    train_sets, train_stats = datasets(train, config.batch_size)
    test_sets, test_stats = datasets(test, 1)
    return {"vocab": lm_vocab, "train": train_sets, "test": test_sets,
            "stats": {"train_buckets": train_stats, "test_buckets": test_stats}}  # fmt: skip


# --- skip-gram -------------------------------------------------------------------------------


def train_skipgram(config: TextConfig, data: dict, workdir: Path, overwrite: bool = False):
    """Skip-gram vectors on the training glosses; the nearest-neighbour and synonym checks."""
    from jaxcnn.text.compiles import count_compiles
    from jaxcnn.text.skipgram import (
        SkipGram,
        nearest_neighbours,
        neighbour_ranks,
        noise_table,
        skipgram_dataset,
        skipgram_pairs,
    )

    from jaxcnn.train import TrainConfig, fit

    vocab = data["vocab"]
    centers, contexts = skipgram_pairs(data["seqs"]["train"], vocab, window=config.sg_window,
                                       subsample=1e-3, seed=config.seed)  # fmt: skip
    if config.sg_pairs is not None and len(centers) > config.sg_pairs:
        keep = np.random.default_rng(config.seed).permutation(len(centers))[: config.sg_pairs]
        centers, contexts = centers[keep], contexts[keep]
    dataset = skipgram_dataset(centers, contexts, noise_table(vocab),
                               num_negatives=config.sg_negatives, seed=config.seed)  # fmt: skip
    model = SkipGram(len(vocab), config.embed_dim)
    train_config = TrainConfig(epochs=config.sg_epochs, batch_size=config.sg_batch_size,
                               learning_rate=config.sg_learning_rate, seed=config.seed,
                               progress=False)  # fmt: skip
    with count_compiles() as compiles:
        result = fit(model, dataset, None, train_config, workdir=workdir, overwrite=overwrite)
    table = np.asarray(result.variables["params"]["embed"]["table"])
    pairs = np.asarray(
        [(vocab.id(a), vocab.id(b)) for a, b in read_synonyms(config.wordnet_dir)
         if a in vocab and b in vocab], np.int64,
    ).reshape(-1, 2)  # fmt: skip
    pairs = pairs[np.random.default_rng(config.seed).permutation(len(pairs))[:2000]]
    random_table = np.random.default_rng(config.seed).normal(size=table.shape)
    report = {
        "pairs": int(len(centers)),
        "final_loss": result.history[-1]["train_loss"],
        "chance_loss": math.log(config.sg_negatives + 1),
        "train_examples_per_s": result.throughput,
        "xla_compiles": int(sum(compiles.values())),
        "synonym_pairs": int(len(pairs)),
        "synonym_median_rank": float(np.median(neighbour_ranks(table, pairs))) if len(pairs)
        else None,
        "synonym_median_rank_random": float(np.median(neighbour_ranks(random_table, pairs)))
        if len(pairs) else None,
        "vocab_size": len(vocab),
        "neighbours": {w: [n for n, _ in nn] for w, nn in
                       nearest_neighbours(table, vocab, PROBES, k=5).items()},
    }  # fmt: skip
    return table, report


# --- models ----------------------------------------------------------------------------------


def make_classifier(name: str, config: TextConfig, vocab_size: int):
    """The classifier called ``name`` (one of :data:`CLASSIFIERS`)."""
    from jaxcnn.text.models import BagOfEmbeddings, KimCNN

    if name in SWEEP_MODELS and SWEEP_MODELS[name][1] is not None:
        family, dim, width = SWEEP_MODELS[name]
        if family == "MLP":
            return BagOfEmbeddings(vocab_size, len(LEXNAMES), dim, width, config.dropout)
        return KimCNN(vocab_size, len(LEXNAMES), dim, config.widths, width, config.dropout,
                      "trainable")  # fmt: skip
    if name == "bag_of_embeddings":
        return BagOfEmbeddings(vocab_size, len(LEXNAMES), config.embed_dim, config.hidden,
                               config.dropout)  # fmt: skip
    mode = {"kim_rand": "trainable", "kim_static": "static", "kim_nonstatic": "trainable",
            "kim_two_channel": "two_channel"}  # fmt: skip
    if name not in mode:
        raise ValueError(
            f"make_classifier: name must be one of {CLASSIFIERS + tuple(SWEEP_MODELS)}, "
            f"got {name!r}"
        )
    return KimCNN(vocab_size, len(LEXNAMES), config.embed_dim, config.widths, config.features,
                  config.dropout, mode[name])  # fmt: skip


def fit_classifier(
    name, config: TextConfig, data: dict, vectors, workdir: Path, overwrite: bool = False
):
    """Train one classifier by the protocol; test accuracy over every test bucket (read once).

    Returns:
      ``(row, history, entry, correct)``: the table row, the first seed's history, the
      ``"models"`` entry and the ``(seeds, N)`` correct matrix (`experiments.protocol`).
    """
    from jaxcnn.text.compiles import count_compiles
    from jaxcnn.text.embeddings import replace_table

    from jaxcnn.train import TrainConfig, fit, init_variables

    model = make_classifier(name, config, len(data["vocab"]))
    plan = protocol_of(config)
    compiles_seen: dict = {}
    last: dict = {}

    def fit_one(lr, seed):
        variables = init_variables(model, data["train"][0], seed)
        if name in ("kim_static", "kim_nonstatic", "kim_two_channel"):
            variables = replace_table(variables, "embed", vectors)
            if name == "kim_two_channel":
                variables = replace_table(variables, "embed_static", vectors)
        train_config = TrainConfig(epochs=config.epochs, batch_size=config.batch_size,
                                   learning_rate=lr, seed=seed, num_classes=len(LEXNAMES),
                                   progress=False)  # fmt: skip
        with count_compiles() as compiles:
            result = fit(model, data["train"], data["dev"], train_config,
                         workdir=workdir / f"lr{lr:g}_s{seed}", variables=variables,
                         callbacks=protocol.callbacks(plan), overwrite=overwrite)  # fmt: skip
        if not compiles_seen:
            compiles_seen.update(compiles)
            last["result"] = result
        return result

    def test_correct(variables):
        # the one pass over the test glosses: accuracy, loss and interval from the same logits
        logits, labels = bucket_logits(model, variables, data["test"])
        if "test_loss" not in last:
            last["test_loss"] = _cross_entropy(logits, labels)
        return logits.argmax(axis=1) == labels

    length = config.lengths[len(config.lengths) // 2]
    example = {"ids": np.zeros((1, length), np.int32), "mask": np.ones((1, length), bool)}
    entry, correct, runs = protocol.run_model(
        fit_one, test_correct, plan, family=FAMILIES[name],
        flops=protocol.flops_per_example(model, example), seed=config.seed,
    )  # fmt: skip
    entry["flops_length"] = length
    row = _row(name, last["result"], compiles_seen, len(data["train"]), config.epochs)
    row.update(
        flops=entry["flops"],
        test_accuracy=entry["test_accuracy"],  # the seed mean
        test_loss=last["test_loss"],  # the first seed's
        dev_accuracy=entry["seeds"][0]["dev_accuracy"],
        # glosses are the independent units: one per example
        test_ci95=entry["test_ci95"],
        epochs_run=entry["epochs_run"],
        best_epoch=entry["best_epoch"],
        learning_rate=entry["learning_rate"],
        train_seconds=entry["train_seconds"],
    )
    return row, runs[0], entry, correct


def bucket_logits(model, variables, datasets) -> tuple[np.ndarray, np.ndarray]:
    """Logits ``(N, C)`` and labels ``(N,)`` over several buckets, concatenated in bucket order."""
    from jaxcnn.train import predict

    logits = [np.asarray(predict(model, variables, d, batch_size=512)) for d in datasets]
    labels = [np.asarray(d.arrays["y"]) for d in datasets]
    return np.concatenate(logits), np.concatenate(labels)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(labels)), labels].mean())


def linear_baseline(config: TextConfig, data: dict) -> dict:
    """TF-IDF word + bigram logistic regression on the same glosses (C: the dev-best of
    ``linear_baseline.TEXT_C_GRID``, one value by default).

    Returns:
      ``{"model", "test_accuracy", "test_ci95", "C", "dev_accuracy", "features"}``.
    """
    from jaxcnn.experiments.linear_baseline import tfidf_logistic_regression

    texts, labels = data["texts"], data["labels"]
    fitted = tfidf_logistic_regression(texts["train"], labels["train"], texts["test"],
                                       texts["dev"], labels["dev"], seed=config.seed)  # fmt: skip
    return {
        "model": fitted["model"],
        **compare.score(fitted["predictions"], labels["test"], seed=config.seed),
        "C": fitted["C"],
        "dev_accuracy": fitted["dev_accuracy"],
        "features": fitted["features"],
    }


def fit_language_model(name, config: TextConfig, lm: dict, workdir: Path, overwrite: bool = False):
    """Train one next-word model; test perplexity = exp(mean cross-entropy per token)."""
    from jaxcnn.text.compiles import count_compiles
    from jaxcnn.text.models import CausalConvLM, WindowMLPLM

    from jaxcnn.train import TrainConfig, fit

    v = len(lm["vocab"])
    if name == "causal_conv_lm":
        model = CausalConvLM(v, config.embed_dim, config.embed_dim, 5, config.lm_depth)
    elif name == "window_mlp_lm":
        # hidden chosen so the MLP has about the conv stack's parameters:
        # depth * (5 d^2 + d) ~ 5 d h + h + h d + d
        d = config.embed_dim
        hidden = max(1, round((config.lm_depth * (5 * d * d + d) - d) / (6 * d + 1)))
        model = WindowMLPLM(v, d, 5, hidden, d)
    else:
        raise ValueError(f"fit_language_model: name must be one of {LANGUAGE_MODELS}, got {name!r}")
    train_config = TrainConfig(epochs=config.lm_epochs, batch_size=config.batch_size,
                               learning_rate=config.learning_rate, seed=config.seed,
                               progress=False)  # fmt: skip
    with count_compiles() as compiles:
        result = fit(model, lm["train"], None, train_config, workdir=workdir, overwrite=overwrite)
    test = evaluate_buckets(model, result.variables, lm["test"])
    row = _row(name, result, compiles, len(lm["train"]), config.lm_epochs)
    row.update(
        test_accuracy=test["accuracy"],
        test_loss=test["loss"],
        test_perplexity=math.exp(test["loss"]),
        lm_vocab=v,
        receptive_field=(config.lm_depth * 4 + 1) if name == "causal_conv_lm" else 5,
    )
    return row, result.history


def evaluate_buckets(model, variables, datasets) -> dict:
    """Loss and accuracy over several buckets, weighted by each bucket's example/token count."""
    from jaxcnn.train import evaluate

    parts = [evaluate(model, variables, d, batch_size=512) for d in datasets]
    count = sum(p["count"] for p in parts)
    return {
        "loss": sum(p["loss"] * p["count"] for p in parts) / count,
        "accuracy": sum(p["accuracy"] * p["count"] for p in parts) / count,
        "count": count,
    }


def dense_vs_conv(length: int = 1000, dim: int = 100, width: int = 5) -> dict:
    """The notes' example from real modules, shapes only (``jax.eval_shape``: no allocation).

    A dense layer from the flattened ``length x dim`` sequence to another needs
    ``(L d)^2 + L d`` parameters (10,000,100,000); a width-5 convolution ``5 d^2 + d`` (50,100).
    """
    import jax

    from jaxcnn.layers import Conv1D, Dense

    def count(module, shape):
        x = jax.ShapeDtypeStruct(shape, np.float32)
        tree = jax.eval_shape(module.init, jax.random.key(0), x)
        return int(sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree)))

    dense = count(Dense(length * dim), (1, length * dim))
    conv = count(Conv1D(dim, width, padding="SAME"), (1, length, dim))
    return {"length": length, "dim": dim, "width": width, "dense_params": dense,
            "conv_params": conv, "ratio": dense / conv}  # fmt: skip


def _row(name, result, compiles, buckets, epochs) -> dict:
    train_compiles = int(result.compiles)
    return {
        "model": name,
        "params": int(result.num_params),
        "train_examples_per_s": float(result.throughput),
        "buckets": buckets,
        "epochs": epochs,
        "train_compiles": train_compiles,  # whole run, all epochs
        "xla_compiles": int(sum(compiles.values())),  # everything, incl. init and eval
        "compile_seconds": float(result.compile_seconds),
    }


# --- reporting -------------------------------------------------------------------------------


def markdown(summary: dict) -> str:
    """results.md: the model table, the dense-vs-conv count and the skip-gram check."""
    from jaxcnn.train.results import markdown_table

    cols = ["model", "params", "flops", "test_accuracy", "test_ci95", "did_not_learn",
            "test_perplexity", "dev_accuracy", "epochs_run", "best_epoch", "learning_rate",
            "train_examples_per_s", "buckets", "train_compiles", "xla_compiles"]  # fmt: skip
    rows = compare.with_baselines(
        summary["rows"],
        {"model": "majority class", "test_accuracy": summary.get("baseline"),
         "test_ci95": summary.get("baseline_ci95")} if "baseline" in summary else None,
        summary.get("baseline_linear"),
    )  # fmt: skip
    rows = [{**r, "test_ci95": compare.format_ci(r["test_ci95"])} if "test_ci95" in r else r
            for r in rows]  # fmt: skip
    d = summary["dense_vs_conv"]
    lines = [
        "# WordNet glosses: 45 lexicographer classes; next-word prediction", "",
        f"config: `{json.dumps(summary['config'])}`", f"commit {summary['code_version']}, "
        f"{summary['date']}, {summary['seconds']:.0f} s", "", markdown_table(rows, cols),
        f"Dense {d['length']}x{d['dim']} -> {d['length']}x{d['dim']}: {d['dense_params']:,} "
        f"parameters; width-{d['width']} convolution: {d['conv_params']:,} "
        f"({d['ratio']:,.0f}x fewer).", "",
    ]  # fmt: skip
    if "ranking" in summary:
        full = FULL_RUN["ranking"] if summary["config"]["wordnet_dir"] is None else None
        lines += [compare.ranking_note(summary["ranking"], full, FULL_RUN["source"]), ""]
    if "protocol" in summary:
        lines += [protocol.markdown(summary), ""]
    sg = summary.get("skipgram")
    if sg:
        lines += [
            f"Skip-gram: {sg['pairs']:,} pairs, final loss {sg['final_loss']:.3f} (chance "
            f"{sg['chance_loss']:.3f}); median rank of a WordNet synonym among "
            f"{sg['vocab_size']:,} words: {sg['synonym_median_rank']} (random vectors: "
            f"{sg['synonym_median_rank_random']}), over {sg['synonym_pairs']} pairs.", "",
        ]  # fmt: skip
        lines += [f"- {w}: {', '.join(n)}" for w, n in sg["neighbours"].items()]
    return "\n".join(lines) + "\n"


def plot_learning_curves(histories: dict, path: Path, references: dict | None = None) -> None:
    """Training loss per epoch of every model (and dev accuracy of the classifiers);
    ``references`` (name -> test accuracy, the baselines) as dashed lines on the accuracy panel.
    Process 0 draws it (many processes)."""
    if not is_writer():
        return
    fig = new_figure((10, 4))
    ax1, ax2 = fig.subplots(1, 2)
    for name, hist in histories.items():
        epochs = [h["epoch"] for h in hist]
        ax1.plot(epochs, [h["train_loss"] for h in hist], marker="o", label=name)
        if hist and "eval_accuracy" in hist[0]:
            ax2.plot(epochs, [h["eval_accuracy"] for h in hist], marker="o", label=name)
    for (label, value), style in zip((references or {}).items(), ("--", ":"), strict=False):
        ax2.axhline(value, color="gray", linestyle=style, label=f"{label} (test)")
    ax1.set(xlabel="epoch", ylabel="training loss", title="training loss")
    ax2.set(xlabel="epoch", ylabel="dev accuracy", title="classifiers: dev accuracy")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def _subset(items, n, rng):
    if n is None or n >= len(items):
        return list(items)
    return [items[i] for i in np.sort(rng.permutation(len(items))[:n])]


def _read_json(path: Path):
    """The parsed file, or None when it is missing or damaged (then it is rebuilt)."""
    if not path.exists():
        return None
    try:
        return _durable.read_json(path)
    except (OSError, ValueError) as e:
        warnings.warn(f"text_conv: {e}; recomputing it", stacklevel=2)
        return None


def main(argv: list[str] | None = None) -> dict:
    from jaxcnn.train.cli import add_common_args, apply_overrides

    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    parser.add_argument("--full", action="store_true", help="every gloss, more epochs")
    parser.add_argument("--wordnet-dir", default=None, help="a WordNet dict folder")
    parser.add_argument("--vectors", default=None, help="GloVe/word2vec text file (else skip-gram)")
    parser.add_argument(
        "--classifiers",
        default=None,
        help=f"comma-separated classifiers of the table, a subset of {CLASSIFIERS}",
    )
    protocol.add_args(parser)
    args = parser.parse_args(argv)
    if args.quick and args.full:
        parser.error("--quick and --full exclude each other")
    config = full_config() if args.full else get_config(quick=args.quick)
    config = apply_overrides(config, args)
    config = protocol.apply_args(config, args)
    if args.wordnet_dir:
        config = dataclasses.replace(config, wordnet_dir=args.wordnet_dir)
    if args.vectors:
        config = dataclasses.replace(config, vectors_path=args.vectors)
    if args.classifiers is not None:
        names = tuple(n for n in args.classifiers.split(",") if n)
        unknown = sorted(set(names) - set(CLASSIFIERS))
        if unknown or not names:
            parser.error(f"--classifiers: want a subset of {CLASSIFIERS}, got {args.classifiers!r}")
        config = dataclasses.replace(config, classifiers=names)
    summary = run(config, args.workdir or "runs/text", overwrite=args.overwrite)
    if is_writer():  # one table per job, not one per process
        print(markdown(summary))
    return summary


if __name__ == "__main__":
    main()
