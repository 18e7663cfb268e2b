"""The main job: every pipeline's MLP-vs-CNN experiment on real data, one table each.

    python -m jaxcnn.experiments.main [--workdir runs/main] [--quick] [--only audio,text]
        [--seeds N]

Runs, in order, the notes' parameter arithmetic (`experiments.param_counts`) and the three
pipelines (`experiments.mfcc_frames` on synthesised speech, `experiments.text_conv` on WordNet
glosses, `experiments.images` on Fashion-MNIST), each in its own sub-folder of ``--workdir``,
then prints one table per pipeline: parameters, FLOPs per example, epochs run and best epoch
under the shared comparison protocol (`experiments.protocol`), test accuracy with its 95%
interval, and the baselines. It also draws every pipeline's accuracy-vs-parameters sweep in one
figure (``accuracy_vs_params.png``) and writes ``report.html`` (`experiments.report`).
The same command with the same ``--workdir`` resumes: finished runs are reused from their
``results.json`` and interrupted ones restart from their last checkpoint.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import time
from pathlib import Path

from jaxcnn import _durable

# (name, module, what the table compares). Order: cheapest first, so a failure shows early.
PIPELINES = (
    ("params", "jaxcnn.experiments.param_counts", "the notes' parameter and shape arithmetic"),
    ("audio", "jaxcnn.experiments.mfcc_frames", "MFCC frames (21x40 windows, 138 states)"),
    ("text", "jaxcnn.experiments.text_conv", "WordNet glosses (45 lexicographer classes)"),
    ("images", "jaxcnn.experiments.images", "Fashion-MNIST (10 classes)"),
)

# Columns of the per-pipeline table, in order, with how to print them (a format string or a
# function of the value).
COLUMNS = (
    ("model", "model", "{}"),
    ("params", "parameters", "{:,}"),
    ("flops", "FLOPs/example", "{:,}"),
    ("epochs_run", "epochs run", "{}"),
    ("best_epoch", "best epoch", "{}"),
    ("test_accuracy", "test acc.", "{:.4f}"),
    ("test_ci95", "95% interval", "ci"),
    ("test_per_39", "PER (39 phones)", "{:.3f}"),  # speech only; "-" elsewhere
    ("train_examples_per_s", "train ex/s", "{:,.0f}"),
)


def _takes_overwrite(run) -> bool:
    import inspect

    return "overwrite" in inspect.signature(run).parameters


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/main", help="where every run writes")
    parser.add_argument("--quick", action="store_true", help="tiny configs (seconds; for tests)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="runs whose folder holds another config start afresh (else an error names them)",
    )
    parser.add_argument(
        "--only",
        default=None,
        help="comma-separated subset of: " + ",".join(p[0] for p in PIPELINES),
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="train every model N times (the protocol's seeds)"
    )
    args = parser.parse_args(argv)
    only = set(args.only.split(",")) if args.only else None
    unknown = (only or set()) - {p[0] for p in PIPELINES}
    if unknown:
        parser.error(f"--only: unknown pipeline(s) {sorted(unknown)}")

    from jaxcnn.train.processes import is_writer

    workdir = Path(args.workdir)
    summary, sections = {}, []
    say = print if is_writer() else (lambda *a, **k: None)  # one copy of the tables, from process 0
    for name, module_name, title in PIPELINES:
        if only is not None and name not in only:
            continue
        module = importlib.import_module(module_name)
        config = module.get_config(quick=args.quick)
        if args.seeds is not None and hasattr(config, "seeds"):
            config = dataclasses.replace(config, seeds=args.seeds)
        start = time.perf_counter()
        say(f"\n=== {name}: {title}", flush=True)
        kwargs = {"overwrite": True} if args.overwrite and _takes_overwrite(module.run) else {}
        result = module.run(config, str(workdir / name), **kwargs)
        seconds = time.perf_counter() - start
        summary[name] = {"seconds": seconds, "rows": result.get("rows", [])}
        if name != "params":
            table = format_table(title, table_rows(result), seconds, _protocol_line(result))
            say(table)
            sections.append({"name": name, "title": title, "seconds": seconds,
                             "table": table, "result": result})  # fmt: skip
    text = json.dumps(_durable.strict_json(summary), indent=2, allow_nan=False, default=str)
    from jaxcnn.train import results  # (here: importing this module stays cheap)

    results.write_text(workdir / "summary.json", text + "\n")  # process 0 writes (many)
    if sections and is_writer():
        from jaxcnn.experiments import report

        sweeps = [s for s in sections if s["result"].get("sweep")]
        if sweeps:
            report.write_combined_sweep(sweeps, workdir / "accuracy_vs_params.png")
        report.write_report(sections, workdir, workdir / "report.html")
    return summary


def _protocol_line(result: dict) -> str | None:
    """The pipeline's protocol in words (None for a result without one)."""
    from jaxcnn.experiments import protocol

    p = result.get("protocol")
    if not p:
        return None
    plan = protocol.Protocol(p["max_epochs"], p["patience"], tuple(p["learning_rates"]),
                             p["seeds"], p["monitor"])  # fmt: skip
    return plan.describe()


def table_rows(result: dict) -> list[dict]:
    """A pipeline's model rows, then its majority-class and linear baselines (issue 26)."""
    from jaxcnn.experiments import compare

    base = None
    if result.get("baseline") is not None:
        base = {"model": "majority class", "test_accuracy": result["baseline"],
                "test_ci95": result.get("baseline_ci95")}  # fmt: skip
    linear = result.get("baseline_linear")
    rows = result.get("rows", [])
    if linear is not None:  # name the models below the linear baseline, with the reason
        budget = (result.get("protocol") or {}).get("max_epochs")
        rows = [{**r, "below_linear": compare.below_linear(r, linear["test_accuracy"], budget)}
                for r in rows]  # fmt: skip
    return compare.with_baselines(rows, base, linear)


def format_table(title: str, rows: list[dict], seconds: float, note: str | None = None) -> str:
    """One markdown table of MLP vs CNN rows (columns in ``COLUMNS``; extra keys ignored).

    A row marked ``did_not_learn`` (accuracy not above the majority baseline's interval) says so
    after its name; one marked ``below_linear`` (`compare.below_linear`) gives that and why.
    ``note`` (the protocol's budget) is printed under the table.
    """
    from jaxcnn.experiments.compare import format_ci

    lines = [f"\n{title}  ({seconds:.0f} s)", ""]
    lines.append("| " + " | ".join(header for _, header, _ in COLUMNS) + " |")
    lines.append("|" + "---|" * len(COLUMNS))
    for row in rows:
        cells = []
        for key, _, fmt in COLUMNS:
            value = row.get(key)
            if value is None:
                cells.append("-")
            else:
                cells.append(format_ci(value) if fmt == "ci" else fmt.format(value))
        if row.get("did_not_learn"):
            cells[0] += " (did not learn)"
        elif row.get("below_linear"):
            cells[0] += f" (below the linear baseline; {row['below_linear']})"
        lines.append("| " + " | ".join(cells) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
