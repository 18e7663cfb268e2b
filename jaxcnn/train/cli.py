"""The command-line convention shared by every experiment script."""

from __future__ import annotations

import argparse


def add_common_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--workdir --seed --epochs --batch-size --quick --overwrite --compute-dtype``.

    ``--epochs`` and ``--batch-size`` default to None so a script keeps its own defaults
    (from ``get_config(quick)``) unless the user overrides them.
    """
    parser.add_argument(
        "--workdir",
        default=None,
        help="results, metrics, checkpoints and plots go here; the same workdir resumes",
    )
    parser.add_argument("--seed", type=int, default=0, help="the one seed of the run")
    parser.add_argument("--epochs", type=int, default=None, help="override the config's epochs")
    parser.add_argument(
        "--batch-size", type=int, default=None, help="override the config's batch size"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a tiny configuration that finishes in seconds"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="a workdir holding a run of another config is started afresh (else an error "
        "names the differing fields; only raising --epochs continues a run)",
    )
    parser.add_argument(
        "--compute-dtype",
        default=None,
        choices=["float32", "bfloat16"],
        help="mixed precision: float32 parameters, training activations in this dtype "
        "(TrainConfig.compute_dtype; scripts whose config has the field)",
    )
    return parser


def apply_overrides(config, args):
    """``config`` (a dataclass) with seed/epochs/batch_size/compute_dtype replaced if given."""
    import dataclasses

    changes = {"seed": args.seed}
    if args.epochs is not None:
        changes["epochs"] = args.epochs
    if args.batch_size is not None:
        changes["batch_size"] = args.batch_size
    if getattr(args, "compute_dtype", None) is not None:
        changes["compute_dtype"] = args.compute_dtype
    fields = {f.name for f in dataclasses.fields(config)}
    return dataclasses.replace(config, **{k: v for k, v in changes.items() if k in fields})
