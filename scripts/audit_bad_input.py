"""Audit probe (issue 24): feed bad input to the library and classify what happens.

Not a test: a re-runnable count. Run it as

    .venv/bin/python scripts/audit_bad_input.py

Three categories (the first three rows of issue 24's table):

- ``functional``: bad calls to `jaxcnn.functional` and `jaxcnn.layers`, plus valid edge cases
  whose value is checked against a NumPy reference;
- ``train``: bad input to `Dataset` / `TrainConfig` / `fit` / `evaluate` / `predict`;
- ``loaders``: truncated, garbled, empty, wrong-magic files, folders given as files and
  missing files for every loader, and damaged feature-cache entries.

Each outcome is one of

- ``clear``: an exception of an expected type (ValueError, TypeError, OSError and their
  subclasses) not raised from inside a dependency (jax / XLA / NumPy / Flax; the standard
  library's OSError for a missing file or a folder counts), whose message names the function,
  the argument or the file (case-sensitive). One exception: a layer's ``Module.apply`` with
  the parameters of another layer gets Flax's own ``ScopeParamShapeError`` naming the
  parameter and both shapes (Flax's API, called directly);
- ``deep``: any other exception, or one raised inside a dependency;
- ``silent``: no exception for a bad input, or a wrong value / shape for a valid one;
- ``ok``: a valid edge case with the right value.

Exits 1 if any case is ``deep`` or ``silent``. Small arrays, a few training steps at most.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import io
import logging
import os
import pickle
import sys
import tempfile
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OURS = tuple(str(ROOT / d) + os.sep for d in ("jaxcnn", "audio", "text"))
EXPECTED = (ValueError, TypeError, OSError)


@dataclasses.dataclass
class Case:
    category: str
    name: str
    run: Callable[[], object]
    needles: tuple[str, ...] = ()  # any one must appear in the message (case-insensitive)
    check: Callable[[object], bool] | None = None  # set: a valid edge case, check(result)
    also: tuple[type, ...] = ()  # a dependency's own named error accepted (Flax's Module.apply)


@dataclasses.dataclass
class Outcome:
    case: Case
    kind: str  # clear | deep | silent | ok
    detail: str


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--verbose", action="store_true", help="print every case, not just failures"
    )
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the caches warn on purpose when they recompute
    warnings.simplefilter("ignore")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        cases = functional_cases() + train_cases(tmp / "train") + loader_cases(tmp / "loaders")
        outcomes = [classify(c) for c in cases]
    report(outcomes, args.verbose)
    return 1 if any(o.kind in ("deep", "silent") for o in outcomes) else 0


def classify(case: Case) -> Outcome:
    try:
        result = case.run()
    except Exception as e:  # noqa: BLE001 - classifying every exception is the point
        message = f"{type(e).__name__}: {e}".replace("\n", " ")[:200]
        if case.check is not None:
            return Outcome(case, "deep", "valid input refused: " + message)
        frames = traceback.extract_tb(e.__traceback__)
        where = frames[-1].filename if frames else ""
        # deep: raised inside a dependency (jax, XLA, NumPy, Flax, ...); the standard
        # library's own OSError for a missing file or a folder (pathlib, open) is not deep
        inside = "site-packages" in where and not where.startswith(OURS)
        named = any(n in str(e) for n in case.needles)
        expected = isinstance(e, EXPECTED + case.also)
        if expected and named and (not inside or isinstance(e, case.also)):
            return Outcome(case, "clear", message)
        why = [] if expected else ["unexpected type"]
        why += [f"raised in {Path(where).name}"] if inside else []
        why += [] if named else [f"names none of {case.needles}"]
        return Outcome(case, "deep", f"{message} ({'; '.join(why)})")
    if case.check is None:
        return Outcome(case, "silent", f"accepted, returned {_short(result)}")
    try:
        good = bool(case.check(result))
    except Exception as e:  # noqa: BLE001
        good, result = False, f"check raised {type(e).__name__}: {e}"
    return Outcome(case, "ok" if good else "silent", "" if good else f"wrong: {_short(result)}")


def _short(x: object) -> str:
    if hasattr(x, "shape"):
        return f"array {getattr(x, 'dtype', '')} {x.shape}"
    return repr(x)[:120]


def report(outcomes: list[Outcome], verbose: bool) -> None:
    kinds = ("clear", "ok", "deep", "silent")
    print(f"| category | tried | bad inputs | {' | '.join(kinds)} |")
    print("|---|---|---|" + "---|" * len(kinds))
    totals = dict.fromkeys(kinds, 0)
    for category in ("functional", "train", "loaders"):
        rows = [o for o in outcomes if o.case.category == category]
        counts = {k: sum(o.kind == k for o in rows) for k in kinds}
        bad = sum(o.case.check is None for o in rows)
        for k in kinds:
            totals[k] += counts[k]
        print(f"| {category} | {len(rows)} | {bad} | {' | '.join(str(counts[k]) for k in kinds)} |")
    bad = sum(o.case.check is None for o in outcomes)
    print(f"| total | {len(outcomes)} | {bad} | {' | '.join(str(totals[k]) for k in kinds)} |")
    shown = [o for o in outcomes if verbose or o.kind not in ("clear", "ok")]
    if shown:
        print()
    for o in shown:
        print(f"{o.kind:6} {o.case.category}/{o.case.name}: {o.detail}")


# ---------------------------------------------------------------- functional and layers


def functional_cases() -> list[Case]:
    import jax
    import jax.numpy as jnp

    import jaxcnn.functional as F
    import jaxcnn.layers as L

    rng = np.random.default_rng(0)
    x2 = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    k2 = rng.normal(size=(3, 3, 3, 4)).astype(np.float32)
    x1 = rng.normal(size=(2, 7, 3)).astype(np.float32)
    k1 = rng.normal(size=(3, 3, 4)).astype(np.float32)
    key = jax.random.key(0)
    cases: list[Case] = []

    def bad(name, fn, *needles):
        cases.append(Case("functional", name, fn, needles))

    def edge(name, fn, ref):
        cases.append(Case("functional", name, fn, check=lambda y: _close(y, ref())))

    # conv2d
    c2 = ("conv2d",)
    bad("conv2d x rank 3", lambda: F.conv2d(x2[0], k2), *c2)
    bad("conv2d x rank 5", lambda: F.conv2d(x2[None], k2), *c2)
    bad("conv2d kernel rank 3", lambda: F.conv2d(x2, k2[0]), *c2)
    bad("conv2d NCHW input (C mismatch)", lambda: F.conv2d(x2.transpose(0, 3, 1, 2), k2), *c2)
    # OIHW (8, 3, 2, 2) reads as HWIO with C_in 2 != 3. (An OIHW kernel whose shape happens to
    # be a valid HWIO one, e.g. (4, 3, 3, 3) here, cannot be told from it: not probed.)
    k_oihw = np.ones((8, 3, 2, 2), np.float32)
    bad("conv2d OIHW kernel", lambda: F.conv2d(x2, k_oihw), *c2)
    bad("conv2d stride 0", lambda: F.conv2d(x2, k2, stride=0), *c2, "stride")
    bad("conv2d stride -1", lambda: F.conv2d(x2, k2, stride=-1), *c2, "stride")
    bad("conv2d stride (1,)", lambda: F.conv2d(x2, k2, stride=(1,)), *c2, "stride")
    bad("conv2d stride (1,1,1)", lambda: F.conv2d(x2, k2, stride=(1, 1, 1)), *c2, "stride")
    bad("conv2d stride 1.5", lambda: F.conv2d(x2, k2, stride=1.5), *c2, "stride")
    bad("conv2d stride True", lambda: F.conv2d(x2, k2, stride=True), *c2, "stride")
    bad("conv2d dilation 0", lambda: F.conv2d(x2, k2, dilation=0), *c2, "dilation")
    bad("conv2d dilation -2", lambda: F.conv2d(x2, k2, dilation=-2), *c2, "dilation")
    bad("conv2d padding 'valid!'", lambda: F.conv2d(x2, k2, padding="valid!"), *c2, "padding")
    bad("conv2d padding (1,)", lambda: F.conv2d(x2, k2, padding=(1,)), *c2, "padding")
    bad("conv2d padding (1,1,1)", lambda: F.conv2d(x2, k2, padding=(1, 1, 1)), *c2, "padding")
    bad("conv2d padding -1", lambda: F.conv2d(x2, k2, padding=-1), *c2, "padding")
    bad(
        "conv2d padding ((1,2,3),(1,1))",
        lambda: F.conv2d(x2, k2, padding=((1, 2, 3), (1, 1))),
        *c2,
        "padding",
    )
    bad(
        "conv2d kernel 7x7 > 5x5 input",
        lambda: F.conv2d(x2, np.ones((7, 7, 3, 4), np.float32)),
        *c2,
    )
    bad("conv2d kernel 0x3", lambda: F.conv2d(x2, np.ones((0, 3, 3, 4), np.float32)), *c2)
    bad("conv2d C_in 0", lambda: F.conv2d(x2[..., :0], np.ones((3, 3, 0, 4), np.float32)), *c2)
    bad("conv2d groups 0", lambda: F.conv2d(x2, k2, groups=0), *c2, "groups")
    bad("conv2d groups 2 (3 channels)", lambda: F.conv2d(x2, k2, groups=2), *c2, "groups")
    bad("conv2d groups -1", lambda: F.conv2d(x2, k2, groups=-1), *c2, "groups")
    bad("conv2d bias wrong length", lambda: F.conv2d(x2, k2, np.zeros(5, np.float32)), *c2, "bias")
    bad("conv2d bias rank 2", lambda: F.conv2d(x2, k2, np.zeros((1, 4), np.float32)), *c2, "bias")
    bad("conv2d string bias", lambda: F.conv2d(x2, k2, "zero"), *c2, "bias")
    bad("conv2d int32 input", lambda: F.conv2d(x2.astype(np.int32), k2), *c2)
    bad("conv2d complex kernel", lambda: F.conv2d(x2, k2.astype(np.complex64)), *c2)
    bad("conv2d list input", lambda: F.conv2d(x2.tolist(), k2), *c2)
    bad("conv2d string input", lambda: F.conv2d("x", k2), *c2)
    # conv1d
    c1 = ("conv1d",)
    bad("conv1d x rank 4", lambda: F.conv1d(x2, k1), *c1)
    bad("conv1d x rank 2", lambda: F.conv1d(x1[0], k1), *c1)
    bad("conv1d NCW input", lambda: F.conv1d(x1.transpose(0, 2, 1), k1), *c1)
    bad("conv1d stride 0", lambda: F.conv1d(x1, k1, stride=0), *c1, "stride")
    bad("conv1d stride (1,1)", lambda: F.conv1d(x1, k1, stride=(1, 1)), *c1, "stride")
    bad("conv1d dilation -1", lambda: F.conv1d(x1, k1, dilation=-1), *c1, "dilation")
    bad("conv1d padding 'BOTH'", lambda: F.conv1d(x1, k1, padding="BOTH"), *c1, "padding")
    bad("conv1d kernel 9 > 7 input", lambda: F.conv1d(x1, np.ones((9, 3, 4), np.float32)), *c1)
    bad("conv1d dilated kernel > input", lambda: F.conv1d(x1, k1, dilation=4), *c1)
    # conv_transpose
    ct = ("conv_transpose",)
    kt = rng.normal(size=(3, 3, 4, 3)).astype(np.float32)  # (KH, KW, C_out, C_in = x's 3)
    bad("conv_transpose2d stride 0", lambda: F.conv_transpose2d(x2, kt, stride=0), *ct, "stride")
    bad(
        "conv_transpose2d padding -1",
        lambda: F.conv_transpose2d(x2, kt, padding=-1),
        *ct,
        "padding",
    )
    bad(
        "conv_transpose2d output_padding >= stride",
        lambda: F.conv_transpose2d(x2, kt, stride=2, output_padding=2),
        *ct,
        "output_padding",
    )
    bad("conv_transpose2d x rank 3", lambda: F.conv_transpose2d(x2[0], kt), *ct)
    bad("conv_transpose2d C mismatch", lambda: F.conv_transpose2d(x2[..., :2], kt), *ct)
    kt1 = rng.normal(size=(3, 4, 3)).astype(np.float32)
    bad(
        "conv_transpose1d dilation 0",
        lambda: F.conv_transpose1d(x1, kt1, dilation=0),
        *ct,
        "dilation",
    )
    bad("conv_transpose1d groups 2", lambda: F.conv_transpose1d(x1, kt1, groups=2), *ct, "groups")
    # pooling
    mp, ap = ("max_pool",), ("avg_pool",)
    bad("max_pool2d window 0", lambda: F.max_pool2d(x2, 0), *mp, "window")
    bad("max_pool2d window 6 > 5", lambda: F.max_pool2d(x2, 6), *mp, "window")
    bad("max_pool2d stride 0", lambda: F.max_pool2d(x2, 2, stride=0), *mp, "stride")
    bad("max_pool2d stride -1", lambda: F.max_pool2d(x2, 2, stride=-1), *mp, "stride")
    bad("max_pool2d window (2,2,2)", lambda: F.max_pool2d(x2, (2, 2, 2)), *mp, "window")
    bad("max_pool2d padding 'same!'", lambda: F.max_pool2d(x2, 2, padding="same!"), *mp, "padding")
    bad("max_pool2d padding >= window", lambda: F.max_pool2d(x2, 2, padding=2), *mp, "padding")
    bad("max_pool2d x rank 3", lambda: F.max_pool2d(x2[0], 2), *mp)
    bad("max_pool1d x rank 4", lambda: F.max_pool1d(x2, 2), *mp)
    bad("avg_pool1d window -1", lambda: F.avg_pool1d(x1, -1), *ap, "window")
    bad("avg_pool2d padding (1,)", lambda: F.avg_pool2d(x2, 2, padding=(1,)), *ap, "padding")
    bad("avg_pool2d window 2.0", lambda: F.avg_pool2d(x2, 2.0), *ap, "window")
    bad("avg_pool2d int input", lambda: F.avg_pool2d(x2.astype(np.int32), 2), *ap)
    bad("global_avg_pool rank 2", lambda: F.global_avg_pool(x2[0, 0]), "global_avg_pool")
    bad(
        "global_avg_pool mask wrong shape",
        lambda: F.global_avg_pool(x1, mask=np.ones((2, 3), bool)),
        "global_avg_pool",
        "mask",
    )
    bad(
        "global_max_pool mask wrong shape",
        lambda: F.global_max_pool(x1, mask=np.ones((3, 7), bool)),
        "global_max_pool",
        "mask",
    )
    # dense, dropout, norms, layouts
    w = rng.normal(size=(3, 2)).astype(np.float32)
    bad("dense in-features mismatch", lambda: F.dense(x2, w[:2]), "dense")
    bad("dense kernel rank 1", lambda: F.dense(x2, w[:, 0]), "dense", "kernel")
    bad("dense bias wrong length", lambda: F.dense(x2, w, np.zeros(3, np.float32)), "dense", "bias")
    bad("dense string bias", lambda: F.dense(x2, w, "b"), "dense", "bias")
    bad("dropout rate 1.5", lambda: F.dropout(key, x2, 1.5), "dropout", "rate")
    bad("dropout rate -0.1", lambda: F.dropout(key, x2, -0.1), "dropout", "rate")
    bad("dropout rate nan", lambda: F.dropout(key, x2, float("nan")), "dropout", "rate")
    bad("dropout rate 'x'", lambda: F.dropout(key, x2, "x"), "dropout", "rate")
    c3 = np.ones(3, np.float32)
    bad("batch_norm scale wrong length", lambda: F.batch_norm(x2, c3[:2], c3, c3, c3), "batch_norm")
    bad(
        "batch_norm epsilon -1",
        lambda: F.batch_norm(x2, c3, c3, c3, c3, epsilon=-1),
        "batch_norm",
        "epsilon",
    )
    bad("layer_norm eps 0", lambda: F.layer_norm(x2, epsilon=0.0), "layer_norm", "epsilon")
    bad("layer_norm axis 7", lambda: F.layer_norm(x2, axis=7), "layer_norm", "axis")
    bad("layer_norm scale wrong length", lambda: F.layer_norm(x2, c3[:2]), "layer_norm", "scale")
    bad("to_channels_last rank 2", lambda: F.to_channels_last(np.ones((2, 3))), "to_channels_last")
    bad(
        "kernel_from_torch rank 2",
        lambda: F.kernel_from_torch(np.ones((2, 3))),
        "kernel_from_torch",
    )

    # layers
    def layer(module, x):
        return lambda: module.apply(module.init(key, x), x)

    bad("Conv2D features 0", layer(L.Conv2D(0, 3), x2), "Conv2D", "features")
    bad("Conv2D kernel_size 0", layer(L.Conv2D(4, 0), x2), "Conv2D", "kernel_size")
    bad("Conv2D kernel_size (3,)", layer(L.Conv2D(4, (3,)), x2), "Conv2D", "kernel_size")
    bad("Conv2D stride -1", layer(L.Conv2D(4, 3, stride=-1), x2), "Conv2D", "stride")
    bad("Conv2D groups 2 (3 ch)", layer(L.Conv2D(4, 3, groups=2), x2), "Conv2D", "groups")
    bad("Conv2D on rank-3 input", layer(L.Conv2D(4, 3), x2[0]), "Conv2D")
    bad("Conv1D on rank-4 input", layer(L.Conv1D(4, 3), x2), "Conv1D")
    bad("Conv1D padding 'NOPE'", layer(L.Conv1D(4, 3, padding="NOPE"), x1), "Conv1D", "padding")
    bad(
        "ConvTranspose2D stride 0",
        layer(L.ConvTranspose2D(4, 3, stride=0), x2),
        "ConvTranspose2D",
        "stride",
    )
    bad("MaxPool window 0", layer(L.MaxPool(0), x2), "MaxPool", "window", "max_pool")
    bad("AvgPool window 9", layer(L.AvgPool(9), x2), "AvgPool", "window", "avg_pool")
    bad("Dense features -1", layer(L.Dense(-1), x2), "Dense", "features")
    bad(
        "Dropout rate 2",
        lambda: L.Dropout(2.0).apply({}, x2, rngs={"dropout": key}),
        "Dropout",
        "rate",
    )
    bad("LayerNorm epsilon -1", layer(L.LayerNorm(epsilon=-1.0), x2), "LayerNorm", "epsilon")
    bad("BatchNorm momentum 2", layer(L.BatchNorm(momentum=2.0), x2), "BatchNorm", "momentum")
    from flax.errors import ScopeParamShapeError

    cases.append(
        Case(
            "functional",
            "Conv2D variables of another layer",
            lambda: L.Conv2D(4, 3).apply(L.Conv2D(4, 5).init(key, x2), x2),
            ("kernel",),
            also=(ScopeParamShapeError,),
        )
    )

    # valid edge cases against NumPy references
    from tests.reference import conv as conv_ref  # naive loops, float64

    one = rng.normal(size=(1, 1, 1, 3)).astype(np.float32)
    k11 = rng.normal(size=(1, 1, 3, 2)).astype(np.float32)
    edge(
        "conv2d 1x1 input 1x1 kernel",
        lambda: F.conv2d(one, k11),
        lambda: (one.reshape(1, 3) @ k11.reshape(3, 2)).reshape(1, 1, 1, 2),
    )
    edge(
        "conv2d kernel == input (5x5)",
        lambda: F.conv2d(x2, np.ones((5, 5, 3, 1), np.float32)),
        lambda: x2.sum(axis=(1, 2, 3)).reshape(2, 1, 1, 1),
    )
    edge(
        "conv2d SAME 1x1 input 3x3 kernel",
        lambda: F.conv2d(one, k2, padding="SAME"),
        lambda: (one.reshape(1, 3) @ k2[1, 1]).reshape(1, 1, 1, 4),
    )
    edge(
        "conv2d stride > input",
        lambda: F.conv2d(x2, k11, stride=7),
        lambda: np.einsum("nc,co->no", x2[:, 0, 0], k11[0, 0]).reshape(2, 1, 1, 2),
    )
    edge(
        "conv2d reference stride 2 dil 2 pad 1",
        lambda: F.conv2d(x2, k2, stride=2, dilation=2, padding=1),
        lambda: conv_ref(x2, k2, (2, 2), ((1, 1), (1, 1)), (2, 2)),
    )
    edge(
        "conv2d groups=3 depthwise",
        lambda: F.conv2d(x2, k2[:, :, :1, :3], groups=3),
        lambda: conv_ref(x2, k2[:, :, :1, :3], (1, 1), ((0, 0), (0, 0)), (1, 1), groups=3),
    )
    edge(
        "conv1d 1-length input",
        lambda: F.conv1d(x1[:, :1], k1[:1]),
        lambda: np.einsum("nwc,co->nwo", x1[:, :1], k1[0]),
    )
    edge(
        "conv1d batch 1",
        lambda: F.conv1d(x1[:1], k1),
        lambda: conv_ref(x1[:1], k1, (1,), ((0, 0),), (1,)),
    )
    edge("max_pool2d 1x1 input window 1", lambda: F.max_pool2d(one, 1), lambda: one)
    edge(
        "max_pool2d window == input",
        lambda: F.max_pool2d(x2, 5),
        lambda: x2.max(axis=(1, 2), keepdims=True),
    )
    edge(
        "avg_pool2d window == input",
        lambda: F.avg_pool2d(x2, 5),
        lambda: x2.mean(axis=(1, 2), keepdims=True),
    )
    edge(
        "avg_pool1d stride > window",
        lambda: F.avg_pool1d(x1, 2, stride=3),
        lambda: np.stack([x1[:, i : i + 2].mean(1) for i in (0, 3)], 1),
    )
    edge("global_avg_pool 1x1", lambda: F.global_avg_pool(one), lambda: one.reshape(1, 3))
    edge(
        "global_max_pool masked",
        lambda: F.global_max_pool(x1, mask=np.arange(7)[None].repeat(2, 0) < 3),
        lambda: x1[:, :3].max(1),
    )
    edge("dense rank-1 batch", lambda: F.dense(x2[0, 0, 0], w), lambda: x2[0, 0, 0] @ w)
    edge("dropout rate 0 identity", lambda: F.dropout(key, x2, 0.0), lambda: x2)
    edge(
        "layer_norm constant row",
        lambda: F.layer_norm(np.full((2, 4), 3.0, np.float32)),
        lambda: np.zeros((2, 4), np.float32),
    )
    edge(
        "batch_norm batch 1",
        lambda: F.batch_norm(one, c3, 0 * c3, 0 * c3, c3, epsilon=0.0),
        lambda: one,
    )
    edge(
        "to_channels_last round trip",
        lambda: F.to_channels_first(F.to_channels_last(x2.transpose(0, 3, 1, 2))),
        lambda: x2.transpose(0, 3, 1, 2),
    )
    kt11 = k11.reshape(1, 1, 2, 3)  # transposed kernels: (KH, KW, C_out // groups, C_in)
    edge(
        "conv_transpose2d 1x1 input stride 2",
        lambda: F.conv_transpose2d(one, kt11, stride=2),
        lambda: (one.reshape(1, 3) @ kt11.reshape(2, 3).T).reshape(1, 1, 1, 2),
    )
    edge("Flatten 1x1x1", lambda: L.Flatten().apply({}, one), lambda: one.reshape(1, 3))
    edge(
        "jnp bfloat16 input keeps dtype",
        lambda: (
            F.conv2d(jnp.asarray(one, jnp.bfloat16), jnp.asarray(k11, jnp.bfloat16)).dtype
            == jnp.bfloat16
        ),
        lambda: True,
    )
    return cases


def _close(y, ref) -> bool:
    if isinstance(ref, bool):
        return bool(y) is ref
    y = np.asarray(y, np.float32)
    ref = np.asarray(ref, np.float32)
    return y.shape == ref.shape and np.allclose(y, ref, rtol=1e-2, atol=1e-2)


# ---------------------------------------------------------------- Dataset, TrainConfig, fit


def train_cases(tmp: Path) -> list[Case]:
    import flax.linen as nn
    import jax.numpy as jnp

    from jaxcnn.train import Dataset, TrainConfig, evaluate, fit, init_variables, predict

    tmp.mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4, 4, 1)).astype(np.float32)
    y = (np.arange(16) % 3).astype(np.int32)

    class Net(nn.Module):
        classes: int = 3

        @nn.compact
        def __call__(self, x):
            return nn.Dense(self.classes)(x.reshape(x.shape[0], -1))

    class Flat(nn.Module):  # logits (B,): not (B, C)
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(x.reshape(x.shape[0], -1))[:, 0]

    class Wide(nn.Module):  # logits (B, 3, 10) for (B,) labels
        @nn.compact
        def __call__(self, x):
            return nn.Dense(30)(x.reshape(x.shape[0], -1)).reshape(-1, 3, 10)

    data = Dataset.from_arrays(x, y)
    cfg = TrainConfig(epochs=1, batch_size=4, eval_batch_size=8, progress=False)
    net = Net()
    variables = init_variables(net, data, 0)
    cases: list[Case] = []

    def bad(name, fn, *needles):
        cases.append(Case("train", name, fn, needles))

    def edge(name, fn, check):
        cases.append(Case("train", name, fn, check=check))

    fa = Dataset.from_arrays
    dsn = ("Dataset",)
    bad("from_arrays lengths 16 vs 15", lambda: fa(x, y[:15]), *dsn)
    bad("from_arrays float labels", lambda: fa(x, y.astype(np.float32)), *dsn, "y")
    bad("from_arrays bool? string labels", lambda: fa(x, y.astype(str)), *dsn, "y")
    bad("from_arrays labels rank 3", lambda: fa(x, y.reshape(16, 1, 1)), *dsn, "y")
    bad("from_arrays labels scalar", lambda: fa(x, np.int32(3)), *dsn, "y")
    bad("from_arrays int64 label 2**32+3", lambda: fa(x, y.astype(np.int64) + 2**32), *dsn, "y")
    bad("from_arrays uint32 label 2**31", lambda: fa(x, np.full(16, 2**31, np.uint32)), *dsn, "y")
    bad("from_arrays weight shape", lambda: fa(x, y, np.ones(15)), *dsn, "weight")
    bad("from_arrays empty", lambda: fa(x[:0], y[:0]), *dsn, "size")
    bad("from_arrays pytree leaf length", lambda: fa({"a": x, "b": x[:3]}, y), *dsn)
    bad("streaming lengths", lambda: Dataset.streaming(x, y[:3]), *dsn)
    bad("Dataset size 0", lambda: Dataset(arrays={}, take=lambda a, i: a, size=0), *dsn, "size")
    bad("Dataset size -1", lambda: Dataset(arrays={}, take=lambda a, i: a, size=-1), *dsn, "size")
    bad("Dataset size 2.0", lambda: Dataset(arrays={}, take=lambda a, i: a, size=2.0), *dsn, "size")
    bad(
        "Dataset size True",
        lambda: Dataset(arrays={}, take=lambda a, i: a, size=True),
        *dsn,
        "size",
    )
    bad("Dataset take not callable", lambda: Dataset(arrays={}, take=3, size=2), *dsn, "take")

    tc = ("TrainConfig",)
    for field, value in [
        ("epochs", 0),
        ("epochs", -1),
        ("epochs", 1.5),
        ("batch_size", 0),
        ("batch_size", -4),
        ("batch_size", "4"),
        ("eval_batch_size", 0),
        ("learning_rate", float("nan")),
        ("learning_rate", -1.0),
        ("optimizer", "adamx"),
        ("schedule", "linearish"),
        ("momentum", float("inf")),
        ("weight_decay", -0.1),
        ("label_smoothing", 1.5),
        ("grad_clip", 0.0),
        ("seed", -1),
        ("seed", 2**64),
        ("steps_per_call", 0),
        ("checkpoint_every", -1),
        ("keep_last", -1),
        ("frozen", "params/*"),
        ("num_classes", 0),
        ("compute_dtype", "float8"),
        ("warmup_steps", -1),
    ]:
        bad(
            f"TrainConfig {field}={value!r}",
            lambda f=field, v=value: TrainConfig(**{f: v}),
            *tc,
            field,
        )
    bad(
        "TrainConfig schedule callable + cosine",
        lambda: TrainConfig(learning_rate=lambda s: 1e-3, schedule="cosine"),
        *tc,
        "schedule",
    )

    ft = ("fit",)
    bad("fit config is a dict", lambda: fit(net, data, None, {"epochs": 1}), *ft, "config")
    bad("fit train is arrays", lambda: fit(net, (x, y), None, cfg), *ft, "train")
    bad("fit eval is arrays", lambda: fit(net, data, (x, y), cfg), *ft, "eval")
    bad("fit model is a function", lambda: fit(lambda v, x: x, data, None, cfg), *ft, "model")
    bad(
        "fit batch_size 32 > 16 examples",
        lambda: fit(net, data, None, dataclasses.replace(cfg, batch_size=32)),
        *ft,
        "batch",
    )
    bad("fit labels >= classes", lambda: fit(net, fa(x, y + 3), None, cfg), *ft, "label")
    bad("fit negative labels", lambda: fit(net, fa(x, y - 1), None, cfg), *ft, "label")
    bad(
        "fit labels (N,1) for (B,C) model",
        lambda: fit(net, fa(x, y[:, None]), None, cfg),
        *ft,
        "label",
        "y",
    )
    bad("fit model logits (B,)", lambda: fit(Flat(), data, None, cfg), *ft, "logits")
    bad("fit model logits (B,3,10)", lambda: fit(Wide(), data, None, cfg), *ft, "logits")
    bad(
        "fit eval of another input shape", lambda: fit(net, data, fa(x[:, :2], y), cfg), *ft, "eval"
    )
    bad(
        "fit variables of another model",
        lambda: fit(net, data, None, cfg, variables=init_variables(Net(5), data, 0)),
        *ft,
        "variables",
    )
    bad(
        "fit variables not a dict",
        lambda: fit(net, data, None, cfg, variables=[1, 2]),
        *ft,
        "variables",
    )
    (tmp / "afile").write_text("x")
    bad(
        "fit workdir is a file",
        lambda: fit(net, data, None, cfg, workdir=tmp / "afile"),
        *ft,
        "workdir",
        "afile",
    )
    bad(
        "fit num_classes 2 < 3 labels",
        lambda: fit(net, data, None, dataclasses.replace(cfg, num_classes=2)),
        *ft,
        "num_classes",
        "label",
    )
    bad(
        "fit metric named like built-in",
        lambda: fit(net, data, None, cfg, metrics={"loss": lambda lg, lb, w: lb * 0.0}),
        *ft,
        "metric",
    )
    bad(
        "fit callbacks not objects",
        lambda: fit(net, data, None, cfg, callbacks=[3]),
        *ft,
        "callback",
    )

    ev = ("evaluate",)
    bad(
        "evaluate batch_size 0",
        lambda: evaluate(net, variables, data, batch_size=0),
        *ev,
        "batch_size",
    )
    bad(
        "evaluate batch_size -1",
        lambda: evaluate(net, variables, data, batch_size=-1),
        *ev,
        "batch_size",
    )
    bad("evaluate dataset is tuple", lambda: evaluate(net, variables, (x, y)), *ev, "dataset")
    bad(
        "evaluate labels out of range", lambda: evaluate(net, variables, fa(x, y + 5)), *ev, "label"
    )
    bad(
        "evaluate num_classes 2 < 3",
        lambda: evaluate(net, variables, data, num_classes=2),
        *ev,
        "num_classes",
    )
    bad(
        "evaluate variables of another model",
        lambda: evaluate(net, init_variables(Net(5), data, 0), data),
        *ev,
        "variables",
    )
    bad("evaluate input of another shape", lambda: evaluate(net, variables, fa(x[:, :2], y)), *ev)
    pr = ("predict",)
    bad(
        "predict batch_size 0",
        lambda: predict(net, variables, data, batch_size=0),
        *pr,
        "batch_size",
    )
    bad(
        "predict batch_size 2.5",
        lambda: predict(net, variables, data, batch_size=2.5),
        *pr,
        "batch_size",
    )
    bad("predict dataset None", lambda: predict(net, variables, None), *pr, "dataset")
    bad(
        "predict variables of another model",
        lambda: predict(net, init_variables(Net(5), data, 0), data),
        *pr,
        "variables",
    )
    bad(
        "predict variables missing params",
        lambda: predict(net, {}, data),
        *pr,
        "variables",
        "params",
    )

    # valid edge cases
    def reference_logits():
        p = variables["params"]["Dense_0"]
        return x.reshape(16, -1) @ np.asarray(p["kernel"]) + np.asarray(p["bias"])

    edge(
        "predict batch_size > size",
        lambda: predict(net, variables, data, batch_size=100),
        lambda r: _close(r, reference_logits()),
    )
    edge(
        "predict batch_size 3 (ragged last)",
        lambda: predict(net, variables, data, batch_size=3),
        lambda r: _close(r, reference_logits()),
    )
    edge(
        "evaluate count and accuracy on 1 example",
        lambda: evaluate(net, variables, fa(x[:1], y[:1]), batch_size=8),
        lambda r: (
            r["count"] == 1 and r["accuracy"] == float(np.argmax(reference_logits()[0]) == y[0])
        ),
    )
    edge(
        "fit 1 example batch 1",
        lambda: fit(net, fa(x[:1], y[:1]), None, dataclasses.replace(cfg, batch_size=1)),
        lambda r: r.steps == 1,
    )
    edge(
        "from_arrays int64 labels in range",
        lambda: fa(x, y.astype(np.int64)),
        lambda d: d.size == 16 and np.array_equal(np.asarray(d.arrays["y"]), y),
    )
    edge(
        "from_arrays uint8 labels",
        lambda: fa(x, y.astype(np.uint8)),
        lambda d: np.asarray(d.arrays["y"]).dtype == np.int32,
    )
    edge(
        "evaluate zero-weight rows ignored",
        lambda: evaluate(net, variables, fa(x, y, (np.arange(16) < 8).astype(np.float32))),
        lambda r: (
            abs(r["accuracy"] - float(np.mean(np.argmax(reference_logits()[:8], 1) == y[:8])))
            < 1e-6
        ),
    )
    edge("jnp labels accepted", lambda: fa(jnp.asarray(x), jnp.asarray(y)), lambda d: d.size == 16)
    return cases


# ---------------------------------------------------------------- loaders and caches


def loader_cases(tmp: Path) -> list[Case]:
    from jaxcnn.audio import features
    from jaxcnn.audio.alignments import read_phn
    from jaxcnn.text.datasets import read_labelled
    from jaxcnn.text.embeddings import load_vectors
    from jaxcnn.text.vocab import Vocabulary

    from jaxcnn.vision.cifar import read_cifar_batch
    from jaxcnn.vision.idx import read_idx
    from tests.test_loader_fuzz import LOADERS

    tmp.mkdir(parents=True)
    cases: list[Case] = []
    counter = iter(range(10**6))

    def bad_bytes(loader: str, what: str, content: bytes | None, needles=(), check=None):
        file_name, _, load = LOADERS[loader]
        folder = tmp / f"c{next(counter)}"
        folder.mkdir()
        path = folder / file_name
        if content is None:
            path.mkdir()
        elif content is not False:
            path.write_bytes(content)
        name = file_name if loader != "image_folder" else "x.png"
        cases.append(
            Case("loaders", f"{loader} {what}", lambda: load(path), needles or (name,), check)
        )

    # A text file cut at a line end, or cut inside its last line, is itself a valid file:
    # labelled text's cuts are valid edge cases whose parse is checked instead.
    def parsed(*rows):
        return lambda r: [(e.text, e.label) for e in r[0]] == list(rows)

    valid_cuts = {"labelled": (parsed(("one two", 0)), parsed(("o", 0)))}
    for loader, (_, seed, _) in LOADERS.items():
        half, three = valid_cuts.get(loader, (None, None))
        bad_bytes(loader, "empty file", b"")
        bad_bytes(loader, "truncated to half", seed[: len(seed) // 2], check=half)
        bad_bytes(loader, "truncated to 3 bytes", seed[:3], check=three)
        bad_bytes(loader, "zeroed", bytes(len(seed)))
        bad_bytes(loader, "random bytes", np.random.default_rng(1).bytes(200))
        bad_bytes(loader, "first byte flipped", bytes([seed[0] ^ 0xFF]) + seed[1:])
        if loader != "image_folder":
            bad_bytes(loader, "folder given as the file", None)
            bad_bytes(loader, "missing file", False)

    # targeted: wrong magic, headers, encodings
    idx_seed = LOADERS["idx"][1]
    bad_bytes("idx", "wrong dtype code 0x99", idx_seed[:2] + b"\x99" + idx_seed[3:])
    bad_bytes("idx", "rank 0xff", idx_seed[:3] + b"\xff" + idx_seed[4:])
    bad_bytes("idx", "header 65536^4 (size wraps)", b"\x00\x00\x08\x04" + b"\x00\x01\x00\x00" * 4)
    bad_bytes("idx", "extra trailing bytes", idx_seed + b"\x00\x01")
    bad_bytes("idx_gz", "gzip of garbage", gzip.compress(b"garbage!"))
    bad_bytes("cifar", "pickle of a list", pickle.dumps([1, 2, 3], protocol=2))
    bad_bytes("cifar", "pickle with os.system global", b"cos\nsystem\n(S'true'\ntR.")
    bad_bytes(
        "cifar",
        "labels longer than data",
        pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}, protocol=2),
    )
    bad_bytes(
        "cifar",
        "data of 100 columns",
        pickle.dumps({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, protocol=2),
    )
    bad_bytes("phn", "non-UTF-8", b"0 10 h\xff#\n")
    bad_bytes("phn", "superscript digit", "0 1\u00b2 h#\n".encode())
    bad_bytes("phn", "end before start", b"10 0 h#\n")
    bad_bytes("phn", "two fields", b"0 10\n")
    bad_bytes("phn", "negative start", b"-5 10 h#\n")
    bad_bytes("vectors", "non-UTF-8", b"2 2\nthe\xff 0.1 0.2\n")
    bad_bytes("vectors", "ragged dims", b"the 0.1 0.2\ncat 0.3\n")
    bad_bytes("vectors", "non-number value", b"the 0.1 abc\n")
    bad_bytes("vectors", "nan value", b"the 0.1 nan\ncat 0.2 0.3\n")
    bad_bytes("labelled", "non-UTF-8", b"a\tone \xff\n")
    bad_bytes("labelled", "no tab", b"a one two\n")
    bad_bytes("vocab", "truncated JSON", LOADERS["vocab"][1][:-5])
    bad_bytes(
        "vocab",
        "string counts",
        b'{"format": "jaxcnn.vocab/1", "tokens": ["<pad>", "<unk>", "a"], "counts": [0, 0, "x"]}',
    )
    bad_bytes("vocab", "wrong format tag", b'{"format": "other/1", "tokens": [], "counts": []}')
    bad_bytes("vocab", "JSON list", b"[1, 2]")
    bad_bytes("image_folder", "text file named .png", b"not a png at all")

    # explicit argument types
    from jaxcnn.audio.features import load_audio

    from jaxcnn.vision.folder import load_image_folder

    for fn, call in [
        ("read_idx", lambda: read_idx(None)),
        ("read_cifar_batch", lambda: read_cifar_batch(None)),
        ("load_audio", lambda: load_audio(None)),
        ("read_phn", lambda: read_phn(None)),
        ("load_vectors", lambda: load_vectors(None, _vocab())),
        ("read_labelled", lambda: read_labelled(None)),
        ("Vocabulary.load", lambda: Vocabulary.load(None)),
        ("load_image_folder", lambda: load_image_folder(None)),
        ("extract", lambda: features.extract([("u", "u.wav", None)], None, workers=1)),
    ]:
        cases.append(Case("loaders", f"{fn} path None", call, (fn,)))
    cases.append(
        Case(
            "loaders",
            "read_cifar_batch bad label_key",
            lambda: read_cifar_batch(
                _write(tmp / "cb" / "data_batch_1", LOADERS["cifar"][1]), label_key="nope"
            ),
            ("data_batch_1", "nope"),
        )
    )
    cases.append(
        Case(
            "loaders",
            "read_labelled errors='maybe'",
            lambda: read_labelled(_write(tmp / "lb" / "l.tsv", b"a\tb\n"), errors="maybe"),
            ("errors",),
        )
    )
    cases.append(
        Case(
            "loaders",
            "load_vectors dim 0",
            lambda: load_vectors(
                _write(tmp / "lv" / "v.txt", LOADERS["vectors"][1]), _vocab(), dim=0
            ),
            ("dim",),
        )
    )
    cases.append(
        Case("loaders", "read_phn missing", lambda: read_phn(tmp / "nope.phn"), ("nope.phn",))
    )
    cases.append(
        Case("loaders", "Vocabulary.load folder", lambda: Vocabulary.load(tmp), (tmp.name,))
    )

    # feature cache: damaged entries are recomputed (valid), bad arguments are clear
    wav, phn = tmp / "fc" / "u.wav", tmp / "fc" / "u.phn"
    wav.parent.mkdir()
    _write(wav, LOADERS["wav"][1] if False else _noise_wav())
    phn.write_text("0 2400 h#\n2400 5600 sh\n5600 8000 iy\n")
    cache = tmp / "fc" / "cache"
    first: dict = {}

    def fresh():
        out = features.extract([("u", wav, phn)], cache, workers=1)
        first.setdefault("labels", _npz(out["path_of"]["u"]))
        return out

    cases.append(
        Case(
            "loaders",
            "feature cache first extract",
            fresh,
            check=lambda r: r["computed"] == 1 and not r["skipped"],
        )
    )
    for damage in ("truncated", "zeroed", "empty", "garbled", "pickled"):

        def damaged(damage=damage):
            entry = Path(fresh()["path_of"]["u"])
            raw = entry.read_bytes()
            entry.write_bytes(
                {
                    "truncated": raw[: len(raw) // 2],
                    "zeroed": bytes(len(raw)),
                    "empty": b"",
                    "garbled": raw[:40] + np.random.default_rng(2).bytes(len(raw) - 40),
                    "pickled": _pickled_npz(),
                }[damage]
            )
            out = features.extract([("u", wav, phn)], cache, workers=1)
            return out, _npz(out["path_of"]["u"])

        cases.append(
            Case(
                "loaders",
                f"feature cache {damage} entry recomputed",
                damaged,
                check=lambda r: (
                    r[0]["recomputed_bad"] == 1 and np.array_equal(r[1], first["labels"])
                ),
            )
        )
    cases.append(
        Case(
            "loaders",
            "extract empty items",
            lambda: features.extract([], cache, workers=1),
            ("extract", "items"),
        )
    )
    cases.append(
        Case(
            "loaders",
            "extract workers 0",
            lambda: features.extract([("u", wav, phn)], cache, workers=0),
            ("extract", "workers"),
        )
    )
    cases.append(
        Case(
            "loaders",
            "extract duplicate keys",
            lambda: features.extract([("u", wav, phn), ("u", wav, phn)], cache, workers=1),
            ("extract", "duplicate"),
        )
    )
    cases.append(
        Case(
            "loaders",
            "extract int key",
            lambda: features.extract([(3, wav, phn)], cache, workers=1),
            ("key",),
        )
    )
    cases.append(
        Case(
            "loaders",
            "extract unknown phone symbol",
            lambda: features.extract(
                [("v", wav, _write(tmp / "fc" / "v.phn", b"0 8000 zzzq\n"))], cache, workers=1
            ),
            ("zzzq",),
        )
    )
    cases.append(
        Case(
            "loaders",
            "extract missing audio is skipped, not a crash",
            lambda: features.extract([("m", tmp / "fc" / "missing.wav", None)], cache, workers=1),
            check=lambda r: (
                [k for k, _ in r["skipped"]] == ["m"] and "missing.wav" in r["skipped"][0][1]
            ),
        )
    )
    return cases


def _write(path: Path, content: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def _noise_wav() -> bytes:
    import soundfile

    buf = io.BytesIO()
    soundfile.write(
        buf, np.random.default_rng(0).normal(0, 0.1, 8000), 16000, subtype="PCM_16", format="WAV"
    )
    return buf.getvalue()


def _npz(path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as z:
        return z["labels"].copy()


def _pickled_npz() -> bytes:
    # An .npz whose array holds Python objects: loading it needs pickle, which the cache refuses.
    buf = io.BytesIO()
    np.savez(buf, features=np.array([{"a": 1}], dtype=object), labels=np.zeros(3, np.int32))
    return buf.getvalue()


def _vocab():
    from jaxcnn.text.vocab import build_vocabulary

    return build_vocabulary(["the cat sat on the mat"])


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # tests.reference, tests.test_loader_fuzz
    sys.exit(main())
