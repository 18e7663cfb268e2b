"""Understanding the trained Fashion-MNIST CNN: filters, activations, dead filters, occlusion,
receptive field.

    python -m jaxcnn.experiments.inspect_cnn [--workdir runs/inspect] [--images-workdir runs/images]

Uses the CNN trained by ``experiments.images`` (``<images-workdir>/cnn/variables.npz``); when
there is none it trains one with the images experiment's default config first. Writes
``filters.png``, ``activations.png``, ``occlusion.png``, ``receptive_field.png`` and
``results.json`` (dead filters, feature-map correlation, occlusion statistics).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxcnn.experiments import images

from jaxcnn._figure import new_figure, save_figure
from jaxcnn.arith.receptive import Window
from jaxcnn.inspect import (
    conv_activations,
    dead_filter_report,
    first_conv_kernel,
    gradient_receptive_field,
    module_outputs,
    occlusion_map,
    receptive_window,
    save_activation_maps,
    save_filter_grid,
    save_receptive_field,
)
from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.processes import is_writer
from jaxcnn.vision import FASHION_MNIST_CLASSES
from jaxcnn.vision.models import make_model

# The "cnn" model up to its second convolution: conv 3x3 SAME, max pool 2, conv 3x3 SAME,
# (see jaxcnn/vision/models.py), as jaxcnn.arith receptive-field windows.
CNN_TO_CONV2 = (Window(3, padding=1), Window(2, stride=2), Window(3, padding=1))


@dataclasses.dataclass(frozen=True)
class InspectConfig:
    images: images.ImagesConfig = images.ImagesConfig(models=("cnn",))
    images_workdir: str | None = None  # where experiments.images put cnn/variables.npz
    dead_examples: int = 2000  # test images for the dead-filter / correlation statistics
    occlusion_examples: int = 4
    patch: int = 5
    unit: tuple[int, int] = (7, 7)  # position in the second conv layer's 14x14 map


def get_config(quick: bool = False) -> InspectConfig:
    """Default: the images experiment's CNN; ``quick``: digits, few examples (seconds)."""
    if quick:
        return InspectConfig(
            images=dataclasses.replace(images.get_config(True), models=("cnn",)),
            dead_examples=200,
            occlusion_examples=2,
            patch=3,
            unit=(2, 2),
        )
    return InspectConfig()


@locks_workdir
def run(config: InspectConfig, workdir: str) -> dict:
    """Make every figure and statistic for the trained CNN; returns the statistics."""
    from jaxcnn.train import results

    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    source = Path(config.images_workdir or out / "images")
    if not (source / "cnn" / "variables.npz").exists():
        images.run(config.images, str(source))
    variables = images.load_variables(source / "cnn" / "variables.npz")
    # Normalise the test images as the CNN's training run did (e.g. --full: all 60k images).
    images_config = _trained_with(source / "cnn" / "row.json", config.images)
    _, (x_test, y_test), num_classes = images.load_data(images_config)
    model = make_model("cnn", num_classes)

    path, kernel = first_conv_kernel(variables["params"])
    save_filter_grid(kernel, out / "filters.png", title=f"first-layer filters ({path})")

    maps = conv_activations(model, variables, x_test[:1])
    save_activation_maps(maps, out / "activations.png", image=x_test[0])

    dead = dead_filter_report(model, variables, x_test[: config.dead_examples])

    def logits_fn(x):
        return model.apply(variables, x, train=False)

    logits_fn = jax.jit(logits_fn)
    # Occlude with the background: raw 0, which normalisation mapped to the image minimum.
    fill = float(x_test.min())
    picks = _one_per_class(y_test, config.occlusion_examples)
    occlusion, stats = [], []
    for i in picks:
        m = np.asarray(
            occlusion_map(logits_fn, x_test[i], int(y_test[i]), patch=config.patch, fill=fill)
        )
        occlusion.append(m)
        foreground = x_test[i, ..., 0] > fill + 1e-6
        positive = np.clip(m, 0, None)
        total = max(float(positive.sum()), 1e-12)
        stats.append(
            {
                "index": int(i),
                "label": int(y_test[i]),
                "max_drop": round(float(m.max()), 4),
                "drop_mass_on_object": round(float(positive[foreground].sum() / total), 4),
                "object_fraction_of_image": round(float(foreground.mean()), 4),
            }
        )
    save_occlusion(
        x_test[picks],
        occlusion,
        [int(y_test[i]) for i in picks],
        out / "occlusion.png",
        config.images.dataset,
    )

    conv_paths = list(maps)
    second = conv_paths[1]

    def conv2_map(x):
        return jax.nn.relu(module_outputs(model, variables, x, _is_conv)[second])

    r, c = config.unit
    size = x_test.shape[1]
    rows, cols = receptive_window(CNN_TO_CONV2, (r, c), (size, size))
    channel = int(np.argmax(np.asarray(conv2_map(jnp.asarray(x_test[:1])))[0, r, c]))
    grad = gradient_receptive_field(conv2_map, x_test[0], (r, c, channel))
    gr, gc = np.nonzero(grad)
    save_receptive_field(
        x_test[0],
        rows,
        cols,
        out / "receptive_field.png",
        gradient=grad,
        title=f"{second} unit {config.unit}",
    )
    summary = {
        "config": dataclasses.asdict(config),
        "trained_with": dataclasses.asdict(images_config),
        "code_version": results.code_version(),
        "provenance": results.provenance(),
        "first_layer": {"path": path, "shape": list(kernel.shape)},
        "dead_filters": dead,
        "occlusion": stats,
        "receptive_field": {
            "layer": second,
            "unit": list(config.unit),
            "channel": channel,
            "window_rows": list(rows),
            "window_cols": list(cols),
            "gradient_rows": [int(gr.min()), int(gr.max()) + 1] if gr.size else None,
            "gradient_cols": [int(gc.min()), int(gc.max()) + 1] if gc.size else None,
        },
    }
    results.write_json(out / "results.json", summary)
    return summary


def _trained_with(row_json: Path, default: images.ImagesConfig) -> images.ImagesConfig:
    """The images config the saved CNN was trained with (its ``row.json``), else ``default``."""
    if not row_json.exists():
        return default
    saved = json.loads(row_json.read_text())["config"]
    fields = {f.name for f in dataclasses.fields(images.ImagesConfig)}
    kw = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in fields}
    return images.ImagesConfig(**kw)


def save_occlusion(xs, maps, labels, path, dataset):
    if not is_writer():  # many processes (jaxcnn.train.launch): process 0 draws it
        return
    names = FASHION_MNIST_CLASSES if dataset == "fashion_mnist" else [str(i) for i in range(10)]
    fig = new_figure((2.1 * len(maps), 4.3))
    axes = fig.subplots(2, len(maps), squeeze=False)
    for k, (x, m, y) in enumerate(zip(xs, maps, labels, strict=True)):
        axes[0, k].imshow(x[..., 0], cmap="gray")
        axes[0, k].set_title(names[y], fontsize=8)
        lim = max(abs(float(m.min())), abs(float(m.max())), 1e-6)
        axes[1, k].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[1, k].set_title(f"drop in p (max {m.max():.2f})", fontsize=7)
        for ax in axes[:, k]:
            ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, path, dpi=80)


def _is_conv(module) -> bool:
    return "Conv" in type(module).__name__


def _one_per_class(labels, n):
    picks = []
    for c in np.unique(labels)[:n]:
        picks.append(int(np.flatnonzero(labels == c)[0]))
    return picks


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/inspect")
    parser.add_argument("--images-workdir", default=None, help="where experiments.images ran")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    config = dataclasses.replace(get_config(args.quick), images_workdir=args.images_workdir)
    summary = run(config, args.workdir)
    if not is_writer():  # one printout per job, not one per process
        return summary
    for layer, rep in summary["dead_filters"].items():
        dead, pairs = len(rep["dead"]), len(rep["correlated_pairs"])
        corr = rep["mean_abs_correlation"]
        print(
            f"{layer}: {dead}/{rep['channels']} dead, mean |corr| {corr:.3f}, {pairs} pairs >= 0.9"
        )
    return summary


if __name__ == "__main__":
    main()
