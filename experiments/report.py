"""The main job's ``report.html``: one self-contained page for a person who would rather look.

Every pipeline's table (the main job's markdown table, as HTML), its accuracy-vs-parameters plot
and learning curves, the combined sweep figure, and the provenance (commit, versions, machine,
date). Images are embedded as base64 PNG data URLs and no script, font or style sheet is
fetched, so the page opens offline and can be mailed as one file.
"""

from __future__ import annotations

import base64
import datetime
import html
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from jaxcnn import _durable

FIGURES = ("accuracy_vs_params.png", "learning_curves.png")  # per pipeline, in its folder


def write_report(sections: Sequence[dict], workdir: str | os.PathLike, path) -> Path:
    """Write ``report.html`` at ``path`` (atomically) and return the path.

    Args:
      sections: one dict per pipeline: ``"name"`` (its folder under ``workdir``), ``"title"``,
        ``"seconds"``, ``"table"`` (markdown, as `main.format_table` prints it), ``"result"``
        (its results dict; ``"provenance"`` and ``"code_version"`` are read from the first).
      workdir: the main job's folder (pipeline figures under ``workdir/<name>/``, the combined
        ``accuracy_vs_params.png`` at its top).
    """
    from jaxcnn.train import results

    workdir = Path(workdir)
    prov = results.provenance()
    machine = (
        f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs, {platform.system()})"
    )
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>jaxcnn main job</title>",
        "<style>body{font-family:sans-serif;max-width:1150px;margin:1em auto}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #bbb;"
        "padding:2px 6px;text-align:right}td:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>",
        "<h1>jaxcnn main job: MLP vs CNN</h1>",
        "<p>"
        + html.escape(
            f"Commit {results.code_version()}; written "
            f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M UTC}; machine {machine}; "
            f"backend {prov['backend']} {', '.join(prov['device_kinds'])}; versions: "
            + ", ".join(
                f"{k} {prov[k]}"
                for k in ("jaxcnn", "python", "jax", "jaxlib", "flax", "optax", "numpy")
            )  # fmt: skip
        )
        + "</p>",
    ]
    combined = workdir / "accuracy_vs_params.png"
    if combined.is_file():
        parts += ["<h2>Accuracy against parameters, every pipeline</h2>", _img(combined)]
    for s in sections:
        parts.append(f"<h2>{html.escape(s['title'])} ({s['seconds']:.0f} s)</h2>")
        body = s["table"].strip().splitlines()
        if body and body[0].startswith(s["title"]):  # the heading says it already
            body = body[1:]
        parts.append(markdown_table_html("\n".join(body)))
        for name in FIGURES:
            figure = workdir / s["name"] / name
            if figure.is_file():
                parts.append(_img(figure))
    parts.append("</body></html>")
    path = Path(path)
    _durable.write_text(path, "\n".join(parts) + "\n")
    return path


def markdown_table_html(text: str) -> str:
    """A markdown table (and the lines around it) as HTML; other lines become paragraphs."""
    out, in_table = [], False
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and set(line.replace("|", "").strip()) <= {"-", ":"}:
            continue  # the header rule
        if line.startswith("|"):
            tag = "th" if not in_table else "td"
            if not in_table:
                out.append("<table>")
                in_table = True
            out.append(
                "<tr>" + "".join(f"<{tag}>{html.escape(c)}</{tag}>" for c in cells) + "</tr>"
            )
            continue
        if in_table:
            out.append("</table>")
            in_table = False
        if line.strip():
            out.append(f"<p>{html.escape(line.strip())}</p>")
    if in_table:
        out.append("</table>")
    return "\n".join(out)


def write_combined_sweep(sections: Sequence[dict], path) -> None:
    """All pipelines' accuracy against parameters and FLOPs in one figure (one row each).

    Drawn on process 0 only (the one that writes files when many run)."""
    from jaxcnn.experiments.protocol import plot_accuracy_vs_params

    from jaxcnn.train.processes import is_writer

    if not is_writer():
        return

    from jaxcnn._figure import new_figure, save_figure

    fig = new_figure((10, 3.6 * len(sections)))
    axes = fig.subplots(len(sections), 2, squeeze=False)
    for row, s in zip(axes, sections, strict=True):
        r = s["result"]
        refs = {"majority class": r.get("baseline")}
        if r.get("baseline_linear"):
            refs["linear baseline"] = r["baseline_linear"]["test_accuracy"]
        plot_accuracy_vs_params(r["sweep"], row, refs, s["name"])
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<p><img alt='{html.escape(path.name)}' src='data:image/png;base64,{data}'></p>"
