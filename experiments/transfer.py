"""Transfer learning on Fashion-MNIST: pretrain on five classes, learn the other five from a few.

    python -m jaxcnn.experiments.transfer [--workdir runs/transfer] [--quick] [--per-class 100]

Source task: T-shirt, Trouser, Pullover, Dress, Coat (classes 0-4). Target task: Sandal, Shirt,
Sneaker, Bag, Ankle boot (5-9), learned from ``per_class`` labelled images per class, tested on all
5,000 target test images. Four ways, each repeated over ``seeds`` (a new subset and head each):

* ``scratch``: the same CNN, randomly initialised, trained on the small subset only;
* ``fine_tune``: pretrained convolutions + a new head, everything trained;
* ``freeze_convs``: pretrained convolutions frozen (``TrainConfig.frozen``) + a new head trained;
* ``features_logreg``: the frozen CNN's flattened features fed to a separate classifier
  (scikit-learn logistic regression).
Writes ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import jax
import numpy as np

from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.processes import is_writer
from jaxcnn.vision import channel_stats, load_fashion_mnist, normalize
from jaxcnn.vision.idx import FASHION_MNIST_DIR
from jaxcnn.vision.models import make_model

METHODS = ("scratch", "fine_tune", "freeze_convs", "features_logreg")


@dataclasses.dataclass(frozen=True)
class TransferConfig:
    dataset: str = "fashion_mnist"  # or "digits" (quick)
    data_dir: str = FASHION_MNIST_DIR
    source_classes: tuple[int, ...] = (0, 1, 2, 3, 4)
    target_classes: tuple[int, ...] = (5, 6, 7, 8, 9)
    model: str = "cnn"
    pretrain_examples: int | None = 10000  # of the 30,000 source-class training images
    pretrain_epochs: int = 3
    batch_size: int = 128
    per_class: int = 100
    target_epochs: int = 20
    target_batch_size: int = 50
    learning_rate: float = 2e-3
    fine_tune_learning_rate: float = 5e-4  # smaller: keep what pretraining learned
    seeds: tuple[int, ...] = (0, 1)
    methods: tuple[str, ...] = METHODS
    seed: int = 0  # of the pretraining


def get_config(quick: bool = False) -> TransferConfig:
    """Default (a few minutes on 2 cores) or ``quick``: digits 0-4 -> 5-9, 20 per class."""
    if quick:
        return TransferConfig(
            dataset="digits",
            pretrain_examples=None,
            pretrain_epochs=3,
            batch_size=64,
            per_class=20,
            target_epochs=6,
            seeds=(0,),
        )
    return TransferConfig()


@locks_workdir
def run(config: TransferConfig, workdir: str) -> dict:
    """Pretrain once, then every method for every seed; returns rows with mean accuracies."""
    from jaxcnn.train import results

    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    data = load_split(config)
    source_model, pre = pretrain(config, data)
    rows = [
        {
            "model": "pretrain (source task)",
            "params": pre["num_params"],
            "test_accuracy": pre["test_accuracy"],
            "train_examples_per_s": pre["throughput"],
            "train_examples": pre["train_examples"],
        }
    ]
    per_seed = {m: [] for m in config.methods}
    for seed in config.seeds:
        subset = target_subset(data, config.per_class, seed)
        for method in config.methods:
            per_seed[method].append(
                train_target(method, config, source_model, pre["variables"], subset, data, seed)
            )
    for method in config.methods:
        runs = per_seed[method]
        acc = np.array([r["test_accuracy"] for r in runs])
        speeds = [r["train_examples_per_s"] for r in runs if r["train_examples_per_s"]]
        rows.append(
            {
                "model": method,
                "params": runs[0]["trainable_params"],
                "test_accuracy": float(acc.mean()),
                "test_accuracy_std": float(acc.std()),
                "per_seed": [float(a) for a in acc],
                "train_examples_per_s": float(np.mean(speeds)) if speeds else None,
                "train_examples": len(config.target_classes) * config.per_class,
            }
        )
    summary = {
        "config": dataclasses.asdict(config),
        "code_version": results.code_version(),
        "provenance": results.provenance(),
        "rows": rows,
    }
    results.write_json(out / "results.json", summary)
    table = results.markdown_table(
        rows, ["model", "params", "test_accuracy", "test_accuracy_std", "train_examples"]
    )
    note = (
        f"\n{config.dataset}: source classes {list(config.source_classes)}, target classes "
        f"{list(config.target_classes)}, {config.per_class} labelled images per target class, "
        f"mean (std) over seeds {list(config.seeds)}; params = trainable parameters. "
        f"Commit {summary['code_version']}.\n"
    )
    results.write_text(out / "results.md", table + note)
    return summary


def load_split(config: TransferConfig) -> dict:
    """Source and target arrays, NHWC float32, normalised with the source training statistics."""
    if config.dataset == "digits":
        from sklearn.datasets import load_digits

        d = load_digits()
        x = (d.images / 16.0).astype(np.float32)[..., None]
        y = d.target.astype(np.int32)
        order = np.random.default_rng(0).permutation(len(y))
        x, y = x[order], y[order]
        train, test = (x[:1400], y[:1400]), (x[1400:], y[1400:])
    elif config.dataset == "fashion_mnist":
        train = load_fashion_mnist(config.data_dir, "train")
        test = load_fashion_mnist(config.data_dir, "test")
    else:
        raise ValueError(
            "load_split: dataset must be one of ['fashion_mnist', 'digits'], "
            f"got {config.dataset!r}"
        )

    def pick(split, classes):
        x, y = split
        keep = np.isin(y, classes)
        remap = np.full(int(y.max()) + 1, -1, np.int32)
        remap[list(classes)] = np.arange(len(classes))
        return x[keep], remap[y[keep]]

    src_train, src_test = pick(train, config.source_classes), pick(test, config.source_classes)
    tgt_train, tgt_test = pick(train, config.target_classes), pick(test, config.target_classes)
    if config.pretrain_examples is not None and config.pretrain_examples < len(src_train[1]):
        keep = np.sort(
            np.random.default_rng(config.seed).permutation(len(src_train[1]))[
                : config.pretrain_examples
            ]
        )
        src_train = (src_train[0][keep], src_train[1][keep])
    mean, std = channel_stats(src_train[0])

    def norm(split):
        return np.asarray(normalize(split[0], mean, std)), split[1]

    return {
        "source_train": norm(src_train),
        "source_test": norm(src_test),
        "target_train": norm(tgt_train),
        "target_test": norm(tgt_test),
        "num_classes": len(config.source_classes),
    }


def pretrain(config: TransferConfig, data: dict):
    """Train the CNN on the source classes; returns ``(model, info dict with variables)``."""
    from jaxcnn.train import Dataset, TrainConfig, fit

    model = make_model(config.model, data["num_classes"])
    result = fit(
        model,
        Dataset.from_arrays(*data["source_train"]),
        Dataset.from_arrays(*data["source_test"]),
        TrainConfig(
            epochs=config.pretrain_epochs,
            batch_size=config.batch_size,
            learning_rate=config.learning_rate,
            schedule="cosine",
            seed=config.seed,
        ),
    )
    return model, {
        "variables": result.variables,
        "test_accuracy": float(result.eval["accuracy"]),
        "throughput": float(result.throughput),
        "num_params": int(result.num_params),
        "train_examples": len(data["source_train"][1]),
    }


def target_subset(data: dict, per_class: int, seed: int):
    """``per_class`` random target training images of every class (a seed-determined draw)."""
    x, y = data["target_train"]
    rng = np.random.default_rng(1000 + seed)
    idx = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )
    return x[np.sort(idx)], y[np.sort(idx)]


def conv_modules(params) -> list[str]:
    """Top-level parameter groups that hold a rank-4 (HWIO) kernel: the convolution layers."""
    return [k for k, v in params.items() if "kernel" in v and np.ndim(v["kernel"]) == 4]


def transplant(pretrained: dict, fresh: dict) -> dict:
    """``fresh`` variables with every convolution layer replaced by the pretrained one.

    Args:
      pretrained, fresh: ``{"params": ...}`` of the same architecture.

    Returns:
      New variables: pretrained convolutions, ``fresh``'s head (and other non-conv layers).
    """
    convs = set(conv_modules(pretrained["params"]))
    params = {k: (pretrained["params"][k] if k in convs else v) for k, v in fresh["params"].items()}
    return {**fresh, "params": params}


def train_target(method, config, model, pretrained, subset, data, seed) -> dict:
    """One method on one target subset; returns test accuracy, trainable params and variables."""
    from jaxcnn.train import Dataset, TrainConfig, evaluate, fit

    test_x, test_y = data["target_test"]
    if method == "features_logreg":
        return _features_logreg(model, pretrained, subset, (test_x, test_y))
    fresh = model.init(jax.random.key(seed + 1), subset[0][:1])
    variables = None if method == "scratch" else transplant(pretrained, fresh)
    convs = conv_modules(fresh["params"])
    frozen = tuple(f"{k}/*" for k in convs) if method == "freeze_convs" else ()
    train_config = TrainConfig(
        epochs=config.target_epochs,
        batch_size=config.target_batch_size,
        learning_rate=config.fine_tune_learning_rate
        if method == "fine_tune"
        else config.learning_rate,
        schedule="cosine",
        seed=seed,
        frozen=frozen,
    )
    # No per-epoch evaluation: on 5,000 test images it would cost more than the training.
    start = variables if variables is not None else fresh
    result = fit(model, Dataset.from_arrays(*subset), None, train_config, variables=start)
    metrics = evaluate(model, result.variables, Dataset.from_arrays(test_x, test_y))
    trainable = sum(
        int(np.size(leaf))
        for k, v in result.variables["params"].items()
        if k not in frozen_keys(frozen)
        for leaf in jax.tree.leaves(v)
    )
    return {
        "test_accuracy": float(metrics["accuracy"]),
        "trainable_params": trainable,
        "train_examples_per_s": float(result.throughput),
        "variables": result.variables,
        "initial": variables if variables is not None else fresh,
    }


def frozen_keys(patterns) -> set[str]:
    return {p.split("/")[0] for p in patterns}


def _features_logreg(model, pretrained, subset, test) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from jaxcnn.inspect import module_outputs

    def features(x):
        outs = module_outputs(model, pretrained, x, lambda m: type(m).__name__ == "Flatten")
        return np.asarray(next(iter(outs.values())))

    start = time.perf_counter()
    scaler = StandardScaler().fit(features(subset[0]))
    clf = LogisticRegression(C=0.1, max_iter=2000)
    clf.fit(scaler.transform(features(subset[0])), subset[1])
    seconds = time.perf_counter() - start
    feats = np.concatenate([features(test[0][i : i + 2000]) for i in range(0, len(test[1]), 2000)])
    acc = float((clf.predict(scaler.transform(feats)) == test[1]).mean())
    return {
        "test_accuracy": acc,
        "trainable_params": int(clf.coef_.size + clf.intercept_.size),
        "train_examples_per_s": len(subset[1]) / seconds,
    }


def main(argv: list[str] | None = None) -> dict:
    from jaxcnn.train import cli

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cli.add_common_args(parser)
    parser.add_argument("--per-class", type=int, default=None, help="labelled target images")
    args = parser.parse_args(argv)
    config = cli.apply_overrides(get_config(args.quick), args)
    if args.epochs is not None:  # --epochs sets the target training, not the pretraining
        config = dataclasses.replace(config, target_epochs=args.epochs)
    if args.per_class is not None:
        config = dataclasses.replace(config, per_class=args.per_class)
    summary = run(config, args.workdir or "runs/transfer")
    if not is_writer():  # one printout per job, not one per process
        return summary
    for row in summary["rows"]:
        std = row.get("test_accuracy_std")
        extra = f" +- {std:.4f}" if std is not None else ""
        print(
            f"{row['model']:24s} params {row['params']:>8,}  acc {row['test_accuracy']:.4f}{extra}"
        )
    return summary


if __name__ == "__main__":
    main()
