"""Every parameter and shape number in the lecture notes, recomputed with real jaxcnn modules.

    python -m jaxcnn.experiments.param_counts --workdir runs/params [--quick]

Each model is built from ``jaxcnn.layers`` and initialised abstractly with ``jax.eval_shape``
(nothing is allocated, so the 10^10-parameter dense layer costs nothing); the count is
``jaxcnn.arith.count_params`` of the abstract parameters and the shape is the real output
shape. Each row shows the notes' figure beside it, the closed-form formula, and whether they
agree; where they do not, ``note`` says why. Writes ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxcnn import arith
from jaxcnn import layers as L
from jaxcnn.train import results
from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.processes import is_writer

COLUMNS = ("item", "notes", "computed", "formula", "shape", "agrees", "note")


@dataclasses.dataclass(frozen=True)
class Config:
    """Nothing to tune: every figure is exact. ``quick`` is accepted for the common CLI."""

    quick: bool = False
    seed: int = 0


def get_config(quick: bool = False) -> Config:
    """The (only) configuration; ``quick`` changes nothing since the script takes a second."""
    return Config(quick=quick)


def build(model: nn.Module, shape: tuple[int, ...]):
    """``(output shape without the batch axis, trainable parameter count)`` via eval_shape."""
    x = jax.ShapeDtypeStruct(shape, jnp.float32)
    out, variables = jax.eval_shape(lambda x: model.init_with_output(jax.random.key(0), x), x)
    return tuple(out.shape[1:]), arith.count_params(variables.get("params", {}))


def _cnn10(padding: str) -> L.Sequential:
    convs = [L.Conv2D(3, 3, padding=padding) for _ in range(10)]
    return L.Sequential([*convs, L.Flatten(), L.Dense(138)])


def rows() -> list[dict]:
    """The table: one dict per figure of the notes (see ``COLUMNS``)."""
    out = []

    def add(item, notes, computed, formula, shape, agrees, note=""):
        out.append(
            {
                "item": item,
                "notes": notes,
                "computed": computed,
                "formula": formula,
                "shape": "x".join(map(str, shape)) if shape else "",
                "agrees": agrees,
                "note": note,
            }
        )

    # 1. MLP on a 21x40 MFCC context window (notes 000).
    mlp = L.Sequential(
        [
            L.Flatten(),
            L.Dense(128),
            nn.relu,
            L.Dense(128),
            nn.relu,
            L.Dense(128),
            nn.relu,
            L.Dense(138),
        ]
    )
    shape, n = build(mlp, (1, 21, 40))
    no_bias = 21 * 40 * 128 + 128 * 128 + 128 * 128 + 128 * 138
    add(
        "MLP 21x40 -> 128 -> 128 -> 128 -> 138",
        f"~160k (21*40*128 + 128*128 + 128*128 + 128*138 = {no_bias:,})",
        n,
        "sum of dense_params(d_in, d_out) = weights + biases",
        shape,
        n == 158_474 and no_bias == 157_952 and round(n, -4) == 160_000,
        f"{n:,} with biases; the notes' sum leaves out the {n - no_bias} biases",
    )

    # 2. The notes' 10-layer CNN, 3 filters 3x3, stride 1, no padding, FC to 138 (notes 000).
    notes_formula = 3 * 3 * 1 * 3 + 9 * (3 * 3 * 3 * 3) + 19 * 38 * 138
    shape_v, n_valid = build(_cnn10("VALID"), (1, 21, 40, 1))
    shape_s, n_same = build(_cnn10("SAME"), (1, 21, 40, 1))
    conv_part = arith.conv_params((3, 3), 1, 3) + 9 * arith.conv_params((3, 3), 3, 3)
    add(
        "10-layer CNN, 3 filters 3x3, stride 1, no padding, FC (as described)",
        f"~100k ((3*3*1*3) + 9*(3*3*3*3) + 19*38*138 = {notes_formula:,})",
        n_valid,
        f"{conv_part} conv + dense_params(1*20*3, 138) = {conv_part} + "
        f"{arith.dense_params(60, 138)}",
        shape_v,
        False,
        "ten valid 3x3 convs shrink 21x40 to 1x20 (21 - 10*2, 40 - 10*2), so the FC sees "
        "1*20*3 = 60 inputs; the notes' 19*38 is the map after ONE conv, and 19*38*138 also "
        "forgets that there are 3 channels and the biases",
    )
    add(
        "same CNN with SAME padding",
        "(not in the notes)",
        n_same,
        f"{conv_part} conv + dense_params(21*40*3, 138)",
        shape_s,
        True,
        "SAME keeps 21x40x3 = 2,520 FC inputs: the FC dominates (347,898 of the total)",
    )
    add(
        "the notes' formula, literally",
        "~100k",
        notes_formula,
        "3*3*1*3 + 9*3*3*3*3 + 19*38*138",
        (19, 38, 1),
        round(notes_formula, -5) == 100_000,
        "no biases; FC input 19x38 = one valid conv of one channel; matches no network "
        "described in the notes",
    )

    # 3. 1000 words x 100 dims -> 1000 x 100 (notes 000).
    shape, n = build(L.Sequential([L.Flatten(), L.Dense(1000 * 100)]), (1, 1000, 100))
    add(
        "dense 1000x100 -> 1000x100",
        "10,000,100,000 ((1000x100)**2 + 1000x100)",
        n,
        "dense_params(100000, 100000)",
        shape,
        n == 10_000_100_000 == arith.dense_params(100_000, 100_000),
        "allocated abstractly (jax.eval_shape): 40 GB as float32",
    )
    shape, n = build(L.Conv1D(100, 5, padding="SAME"), (1, 1000, 100))
    add(
        "conv1d kernel 5, 100 -> 100 channels (SAME: 1000 -> 1000)",
        "50,100 (100x100x5 + 100)",
        n,
        "conv_params((5,), 100, 100)",
        shape,
        n == 50_100 == arith.conv_params(5, 100, 100) and shape == (1000, 100),
    )

    # 4. 32x32x3 input with 5x5x3 kernels (notes 002).
    for d in (1, 6):
        shape, n = build(L.Conv2D(d, 5), (1, 32, 32, 3))
        side = arith.conv_output_size(32, 5)
        add(
            f"32x32x3 input, {d} kernel(s) 5x5x3",
            f"28x28x{d}; theta = w_k*h_k*d_in*d_out + d_out = {5 * 5 * 3 * d + d}",
            n,
            f"w_out = (32 - 5 + 2*0)/1 + 1 = {side}; 5*5*3*{d} + {d}",
            shape,
            shape == (28, 28, d) and n == 5 * 5 * 3 * d + d,
        )

    # 5. Other shape figures of the notes.
    shape, n = build(L.Conv2D(32, 3, padding="SAME"), (1, 56, 56, 3))
    add(
        "56x56x3, 32 kernels, stride 1, zero padding (notes 001; 3x3 assumed)",
        "56x56x32",
        n,
        "SAME: ceil(56/1) = 56; conv_params((3,3), 3, 32)",
        shape,
        shape == (56, 56, 32),
    )
    model = L.Sequential([L.Conv2D(10, 3, padding=1), L.MaxPool(3), L.Conv2D(10, 2)])
    shape_pool, _ = build(L.Sequential([L.Conv2D(10, 3, padding=1), L.MaxPool(3)]), (1, 12, 12, 1))
    shape, n = build(model, (1, 12, 12, 1))
    fields = arith.receptive_fields([arith.Window(3, 1, 1, 1), arith.Window(3, 3), arith.Window(2)])
    rf = fields[-1].size
    add(
        "12x12 -> conv 3x3 pad 1 (10) -> pool 3x3 -> conv 2x2: receptive field",
        "12x12x10 -> 4x4x10; 2nd conv sees 4x4",
        f"{rf[0]}x{rf[1]}",
        "r = 1 + 2*1 = 3; r = 3 + 2*1 = 5, j = 3; r = 5 + 1*3 = 8",
        shape_pool,
        False,
        "the notes' 4x4 = 3 + (2 - 1) forgets the pool's jump of 3: each of the 2x2 "
        "units is 3 input pixels from its neighbour and sees 5x5, so 8x8 "
        f"(checked by gradients in tests/arith); output after conv2 {shape}",
    )
    shape, n = build(L.Flatten(), (1, 3, 3, 64))
    add(
        "[3x3x64] pooled maps flattened (notes 001)",
        "576",
        shape[0],
        "3*3*64",
        shape,
        shape == (576,),
    )
    shape, n = build(L.Sequential([L.Flatten(), L.Dense(100 * 100)]), (1, 100, 100, 1))
    add(
        "100x100 image, fully connected hidden layer of the same size (notes 003)",
        "10,000 inputs; 'a whopping 10 million connections'",
        n - 10_000,
        "10,000 * 10,000 weights (+ 10,000 biases)",
        shape,
        False,
        f"10,000 x 10,000 = 100,000,000 connections: the notes are 10x too low "
        f"({n:,} parameters with biases)",
    )
    shape, _ = build(L.Flatten(), (1, 200, 200, 1))
    add(
        "200x200 image as a vector (notes 000)",
        "40,000",
        shape[0],
        "200*200",
        shape,
        shape == (40_000,),
    )
    return out


@locks_workdir
def run(config: Config, workdir) -> dict:
    """Compute the table, print it, write ``results.json`` and ``results.md`` into ``workdir``.

    Returns:
      ``{"rows": [...], "config": ..., "code_version": ..., "seconds": ...}``.
    """
    start = time.perf_counter()
    table = rows()
    out = {
        "config": dataclasses.asdict(config),
        "rows": table,
        "code_version": results.code_version(),
        "provenance": results.provenance(),
        "seconds": time.perf_counter() - start,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    shown = [
        {**r, "computed": f"{r['computed']:,}" if isinstance(r["computed"], int) else r["computed"]}
        for r in table
    ]
    md = results.markdown_table(shown, COLUMNS)
    if is_writer():  # one table per job, not one per process
        print(md)
    if workdir is not None:
        path = Path(workdir)
        path.mkdir(parents=True, exist_ok=True)
        results.write_json(path / "results.json", out)
        header = (
            f"# The notes' parameter and shape figures, recomputed\n\ncommit "
            f"{out['code_version']}, {out['date']}\n\n"
        )
        results.write_text(path / "results.md", header + md)
    return out


def main(argv=None) -> dict:
    """Parse ``--workdir`` / ``--quick`` (and the other common flags) and run."""
    from jaxcnn.train.cli import add_common_args

    parser = add_common_args(argparse.ArgumentParser(description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return run(get_config(args.quick), args.workdir or "runs/param_counts")


if __name__ == "__main__":
    main()
