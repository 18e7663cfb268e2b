"""Hand-made kernels from the notes: Sobel edges and the solid-5x5-box detector.

    python -m jaxcnn.experiments.edges [--workdir runs/edges] [--quick]

1. A generated image with bright and dark solid boxes of sides 3..7 on a textured background:
   which sizes fire the box detector (only 5).
2. Sobel H, V, sqrt(H^2 + V^2) and |H| + |V| on photographs shipped with scikit-image.
3. The box detector on the photographs, and on scikit-image's checkerboard shrunk so each
   square is 5x5 pixels: every interior square scores 16/18 (bright +, dark -), so it fires at
   a threshold of 0.85 but not at the default 0.92.
Writes ``results.json`` and PNG figures into the work folder.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxcnn._figure import new_figure, save_figure
from jaxcnn.train.lock import locks_workdir
from jaxcnn.train.processes import is_writer
from jaxcnn.vision import kernels

CONTRAST = 0.4  # of the generated boxes against their grey background
BOARD_THRESHOLD = 0.85  # the checkerboard's squares score 16/18 (see run)


@dataclasses.dataclass(frozen=True)
class EdgesConfig:
    photos: tuple[str, ...] = ("camera", "coins", "page")
    sizes: tuple[int, ...] = (3, 4, 5, 6, 7)
    threshold: float = 0.92
    photo_contrast: float = 0.25  # photos: also look for boxes of this (partial) contrast
    max_side: int = 256  # photos are shrunk so the longer side is at most this
    figures: bool = True
    seed: int = 0


def get_config(quick: bool = False) -> EdgesConfig:
    """Default config; ``quick`` uses one small photo and no figures (seconds)."""
    if quick:
        return EdgesConfig(photos=("coins",), max_side=96, figures=False)
    return EdgesConfig()


@locks_workdir
def run(config: EdgesConfig, workdir: str) -> dict:
    """Run the three parts; returns (and writes to ``workdir/results.json``) the measurements."""
    from jaxcnn.train import results

    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    image, boxes = boxes_image(config.sizes, np.random.default_rng(config.seed))
    score = np.asarray(kernels.box_score(jnp.asarray(image)[None, :, :, None]))[0, ..., 0]
    # The generated boxes differ from the background by CONTRAST: look for boxes of that contrast.
    x = jnp.asarray(image)[None, :, :, None]
    fired = np.asarray(kernels.detect_boxes(x, config.threshold, CONTRAST))
    synthetic = {}
    for size in config.sizes:
        hits = [_fired_at(fired[0], r, c, s) for r, c, s, _ in boxes if s == size]
        best = [_best_score(score, r, c, s) / abs(v) for r, c, s, v in boxes if s == size]
        synthetic[str(size)] = {
            "boxes": len(hits),
            "fired": int(sum(hits)),
            "max_relative_score": round(float(max(best)), 4),
        }
    photos = {}
    for name in config.photos:
        photo = load_photo(name, config.max_side)
        x = jnp.asarray(photo)[None, :, :, None]
        edges = kernels.sobel_edges(x, "edge")
        l2 = np.asarray(kernels.edge_magnitude(edges, "l2"))[0, ..., 0]
        l1 = np.asarray(kernels.edge_magnitude(edges, "l1"))[0, ..., 0]
        det = np.asarray(kernels.detect_boxes(x, config.threshold))[0]
        det_low = np.asarray(kernels.detect_boxes(x, config.threshold, config.photo_contrast))[0]
        photos[name] = {
            "shape": list(photo.shape),
            "mean_l2": round(float(l2.mean()), 4),
            "mean_l1": round(float(l1.mean()), 4),
            "l1_over_l2": round(float(l1.sum() / l2.sum()), 4),
            "boxes_fired": int(det.sum()),
            f"boxes_fired_contrast_{config.photo_contrast}": int(det_low.sum()),
        }
        if config.figures:
            save_edges_figure(photo, np.asarray(edges)[0], l2, l1, out / f"edges_{name}.png", name)
            photo_score = np.asarray(kernels.box_score(x))[0, ..., 0]
            save_boxes_figure(
                photo,
                photo_score / config.photo_contrast,
                det_low,
                out / f"boxes_{name}.png",
                f"{name} (contrast {config.photo_contrast})",
            )
    board = checkerboard_5x5()
    xb = jnp.asarray(board)[None, :, :, None]
    board_score = np.asarray(kernels.box_score(xb))[0, ..., 0]
    # Each square touches its diagonal neighbours (same colour) at the corners, which cancels
    # 2 of the 18 Sobel units along every side: an interior square scores 16/18 = 0.89.
    board_det = np.asarray(kernels.detect_boxes(xb, BOARD_THRESHOLD))[0]
    photos["checkerboard_5px"] = {
        "shape": list(board.shape),
        "max_abs_score": round(float(np.abs(board_score).max()), 4),
        "boxes_fired": int(np.asarray(kernels.detect_boxes(xb, config.threshold)).sum()),
        f"boxes_fired_threshold_{BOARD_THRESHOLD}": int(board_det.sum()),
        "interior_squares": int((board.shape[0] // 5 - 2) * (board.shape[1] // 5 - 2)),
    }
    if config.figures:
        save_boxes_figure(
            image, score / CONTRAST, fired[0], out / "boxes_synthetic.png", "generated boxes"
        )
        title = f"checkerboard, 5x5 squares (threshold {BOARD_THRESHOLD})"
        save_boxes_figure(board, board_score, board_det, out / "boxes_checkerboard.png", title)
    summary = {
        "config": dataclasses.asdict(config),
        "code_version": results.code_version(),
        "provenance": results.provenance(),
        "synthetic": synthetic,
        "photos": photos,
    }
    results.write_json(out / "results.json", summary)
    return summary


def boxes_image(sizes, rng, *, spacing: int = 16, repeats: int = 2):
    """A grey image with bright and dark solid boxes of each size, plus mild noise.

    Returns ``(image (H, W) float32, [(row, col, size, contrast), ...])``.
    """
    h, w = spacing * 2 * repeats, spacing * len(sizes)
    image = 0.5 + 0.01 * rng.standard_normal((h, w))
    boxes = []
    for i, s in enumerate(sizes):
        for k in range(2 * repeats):
            r = k * spacing + int(rng.integers(3, spacing - s - 2))
            c = i * spacing + int(rng.integers(3, spacing - s - 2))
            contrast = CONTRAST if k % 2 == 0 else -CONTRAST
            image[r : r + s, c : c + s] += contrast
            boxes.append((r, c, s, contrast))
    return image.astype(np.float32), boxes


def load_photo(name: str, max_side: int) -> np.ndarray:
    """A scikit-image photograph as grayscale float32 in [0, 1], shrunk to ``max_side``."""
    import skimage.data
    import skimage.transform
    from skimage.color import rgb2gray

    photo = getattr(skimage.data, name)()
    if photo.ndim == 3:
        photo = rgb2gray(photo[..., :3])
    photo = np.asarray(photo, np.float64)
    if photo.max() > 1.0:
        photo = photo / 255.0
    scale = max_side / max(photo.shape)
    if scale < 1:
        photo = skimage.transform.rescale(photo, scale, anti_aliasing=True)
    return photo.astype(np.float32)


def checkerboard_5x5() -> np.ndarray:
    """scikit-image's 200x200 checkerboard (25-pixel squares) shrunk 5x: 40x40, 5-pixel squares."""
    import skimage.data

    board = skimage.data.checkerboard().astype(np.float32) / 255.0
    return board[2::5, 2::5]  # one sample per 5x5 block keeps the squares crisp


def _fired_at(fired, r, c, s):
    return bool(fired[r - 2 : r + s + 2, c - 2 : c + s + 2].any())


def _best_score(score, r, c, s):
    return float(np.abs(score[r - 3 : r + s + 3, c - 3 : c + s + 3]).max())


def save_edges_figure(photo, edges, l2, l1, path, name):
    if not is_writer():  # many processes (jaxcnn.train.launch): process 0 draws it
        return
    panels = [
        (photo, "original", "gray"),
        (edges[..., 0], "H (horizontal edges)", "RdBu"),
        (edges[..., 1], "V (vertical edges)", "RdBu"),
        (l2, "sqrt(H^2+V^2)", "gray"),
        (l1, "|H|+|V|", "gray"),
    ]
    fig = new_figure((12, 2.8))
    axes = fig.subplots(1, 5)
    for ax, (img, title, cmap) in zip(axes, panels, strict=True):
        lim = np.abs(img).max() if cmap == "RdBu" else None
        ax.imshow(img, cmap=cmap, vmin=-lim if lim else None, vmax=lim)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    fig.suptitle(f"Sobel edges: skimage.data.{name}", fontsize=10)
    fig.tight_layout()
    save_figure(fig, path, dpi=70)


def save_boxes_figure(image, score, fired, path, title):
    if not is_writer():  # many processes (jaxcnn.train.launch): process 0 draws it
        return
    fig = new_figure((9, 3.2))
    axes = fig.subplots(1, 2)
    axes[0].imshow(image, cmap="gray")
    rows, cols = np.nonzero(fired)
    axes[0].scatter(cols, rows, s=30, facecolors="none", edgecolors="red", linewidths=1.2)
    axes[0].set_title(f"{title}: detections (red)", fontsize=9)
    im = axes[1].imshow(score, cmap="RdBu", vmin=-1, vmax=1)
    axes[1].set_title("box score / contrast (1 = ideal 5x5 box)", fontsize=9)
    fig.colorbar(im, ax=axes[1], fraction=0.03)
    for ax in axes:
        ax.set_axis_off()
    fig.tight_layout()
    save_figure(fig, path, dpi=65)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/edges")
    parser.add_argument("--quick", action="store_true", help="one small photo, no figures")
    args = parser.parse_args(argv)
    summary = run(get_config(args.quick), args.workdir)
    if not is_writer():  # one printout per job, not one per process
        return summary
    for size, s in summary["synthetic"].items():
        best = s["max_relative_score"]
        print(f"{size}x{size} boxes: {s['fired']}/{s['boxes']} fired, best score {best}")
    for name, p in summary["photos"].items():
        print(f"{name}: {p['boxes_fired']} box detections")
    return summary


if __name__ == "__main__":
    main()
