"""Why the notes' 10-layer 3-filter CNN learns slowly, measured: dead filters and gradients.

    python -m jaxcnn.experiments.notes_cnn [--workdir runs/notes_cnn] [--quick]

Trains ``notes_cnn`` (ten 3x3 VALID convolutions with 3 filters, ReLU, Dense) and its remedied
variant of the same shape ``notes_cnn_res`` (a residual path around layers 2-10; ``--models``
also takes ``notes_cnn_bn``, batch norm before each ReLU) on the speech
pipeline's frames under the speech pipeline's protocol (`experiments.mfcc_frames`), and after
every epoch records, per layer: the fraction of its 3 channels that are dead (never positive
after the ReLU on 2,048 dev frames), the fraction of its units that are zero, and the norm of
the loss gradient of its kernel on a fixed batch of 256 training frames. Writes
``results.json`` and ``diagnosis.png`` (both per layer and epoch), read by docs/audio.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from jaxcnn.experiments import mfcc_frames, protocol

from jaxcnn.train import Callback
from jaxcnn.train.processes import is_writer

MODELS = ("notes_cnn", "notes_cnn_res")  # --models adds notes_cnn_bn


class LayerDiagnosis(Callback):
    """Per-epoch dead channels, zero units and kernel-gradient norms of every layer.

    Args:
      model: the speech model; x_train, y_train: a fixed training batch (gradients);
      x_dev: dev windows (activations).
    """

    def __init__(self, model, x_train, y_train, x_dev):
        self.model, self.x_train, self.y_train, self.x_dev = model, x_train, y_train, x_dev
        self.rows: list[dict] = []

    def on_epoch_end(self, ctx):
        self.rows.append({"epoch": ctx.epoch, **diagnose(self.model, jax.device_get(
            ctx.state.variables), self.x_train, self.y_train, self.x_dev)})  # fmt: skip
        return None


def diagnose(model, variables, x_train, y_train, x_dev) -> dict:
    """``{"dead_fraction", "zero_fraction", "grad_norm"}``: one list entry per conv layer.

    The activation of a layer is its output after the ReLU (after batch norm in the remedied
    variant): the input of the next layer.
    """
    maps_fn, grad_fn = _compiled(model)
    maps = maps_fn(variables, jnp.asarray(x_dev))
    dead, zero = [], []
    for m in maps.values():
        a = np.maximum(np.asarray(m), 0).reshape(-1, m.shape[-1])
        dead.append(float(np.mean(a.max(axis=0) <= 0)))
        zero.append(float(np.mean(a <= 0)))
    grads = grad_fn(variables, jnp.asarray(x_train), jnp.asarray(y_train))
    norms = [float(jnp.linalg.norm(g["kernel"])) for k, g in sorted(
        grads.items(), key=lambda kv: _layer_index(kv[0])) if k.startswith("Conv2D")]  # fmt: skip
    return {"dead_fraction": dead, "zero_fraction": zero, "grad_norm": norms}


@functools.lru_cache(maxsize=8)
def _compiled(model):
    """Jitted ``(variables, x) -> conv/BN outputs`` and ``(variables, x, y) -> kernel grads``
    (one compile per model, not one per epoch)."""
    from jaxcnn.inspect.activations import module_outputs

    names = ("BatchNorm",) if getattr(model, "batch_norm", False) else ("Conv2D",)

    def maps(variables, x):
        return module_outputs(model, variables, x, lambda m: type(m).__name__ in names)

    def grads(variables, x, y):
        others = {k: v for k, v in variables.items() if k != "params"}

        def loss(params):
            if others:  # batch norm: the training-mode forward pass, as in the training step
                logits, _ = model.apply({"params": params, **others}, x, train=True,
                                        mutable=list(others))  # fmt: skip
            else:
                logits = model.apply({"params": params}, x, train=True)
            log_p = jax.nn.log_softmax(logits)
            return -jnp.mean(jnp.take_along_axis(log_p, y[:, None], axis=1))

        return jax.grad(loss)(variables["params"])

    return jax.jit(maps), jax.jit(grads)


def _layer_index(name: str) -> int:
    return int(name.rsplit("_", 1)[-1]) if name.rsplit("_", 1)[-1].isdigit() else -1


def run(config: mfcc_frames.SpeechConfig, workdir: str, models: tuple[str, ...] = MODELS) -> dict:
    """Train both models by the speech protocol with :class:`LayerDiagnosis`; results.json."""
    from jaxcnn.audio import phones

    from jaxcnn.train import TrainConfig, fit, init_variables, results

    out = Path(workdir)
    out.mkdir(parents=True, exist_ok=True)
    _, banks = mfcc_frames.prepare_data(config, out)
    train, dev = banks["train"][1], banks["dev"][1]
    idx = np.random.default_rng(0).permutation(train.size)[:256]
    batch = train.take(train.arrays, jnp.asarray(np.sort(idx), jnp.int32))
    dev_idx = jnp.arange(min(2048, dev.size), dtype=jnp.int32)
    x_dev = np.asarray(dev.take(dev.arrays, dev_idx)["x"])
    plan = mfcc_frames.protocol_of(config)
    summary = {"config": mfcc_frames._asdict(config), "protocol": plan.to_dict(), "models": {}}
    for name in models:
        model = mfcc_frames._make(name)
        diag = LayerDiagnosis(model, batch["x"], batch["y"], x_dev)
        # epoch 0: at initialisation (same seed, so the same variables fit starts from)
        start = jax.device_get(init_variables(model, train, config.seed))
        diag.rows.append({"epoch": 0, **diagnose(model, start, batch["x"], batch["y"], x_dev)})
        train_config = TrainConfig(epochs=plan.max_epochs, batch_size=config.batch_size,
                                   learning_rate=plan.learning_rates[0], schedule=config.schedule,
                                   seed=config.seed, num_classes=phones.NUM_STATES,
                                   progress=False)  # fmt: skip
        result = fit(model, train, dev, train_config,
                     callbacks=[*protocol.callbacks(plan), diag])  # fmt: skip
        summary["models"][name] = {
            "history": result.history,
            "best_epoch": result.best_epoch,
            "layers": diag.rows,
        }
    summary["code_version"] = results.code_version()
    results.write_json(out / "results.json", summary)
    plot(summary, out / "diagnosis.png")
    return summary


def plot(summary: dict, path) -> None:
    """Per model: dead channels and gradient norm per layer, one line per epoch (process 0)."""
    from jaxcnn._figure import new_figure, save_figure

    if not is_writer():
        return

    names = list(summary["models"])
    fig = new_figure((10, 3.2 * len(names)))
    axes = fig.subplots(len(names), 2, squeeze=False)
    for row, name in zip(axes, names, strict=True):
        for r in summary["models"][name]["layers"]:
            layers = np.arange(1, len(r["grad_norm"]) + 1)
            row[0].plot(layers, r["zero_fraction"], marker="o", label=f"epoch {r['epoch']}")
            row[1].semilogy(layers, r["grad_norm"], marker="o", label=f"epoch {r['epoch']}")
        row[0].set(xlabel="layer", ylabel="zero units after ReLU (dev)", title=name, ylim=(0, 1))
        row[1].set(xlabel="layer", ylabel="|dL/dkernel| (train batch)", title=name)
        row[0].legend(fontsize=6)
    fig.tight_layout()
    save_figure(fig, path, dpi=90)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="runs/notes_cnn")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--models", default=",".join(MODELS), help="comma-separated")
    parser.add_argument("--epochs", type=int, default=None, help="the protocol's maximum epochs")
    args = parser.parse_args(argv)
    config = mfcc_frames.get_config(args.quick)
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs)
    models = tuple(args.models.split(","))
    summary = run(dataclasses.replace(config, checkpoints=False), args.workdir, models)
    if not is_writer():  # one printout per job, not one per process
        return summary
    for name, m in summary["models"].items():
        last = m["layers"][-1]
        print(name, "best epoch", m["best_epoch"], "dev",
              max(h["eval_accuracy"] for h in m["history"]))  # fmt: skip
        print("  dead channels per layer:", last["dead_fraction"])
        print("  zero units per layer:   ", [round(z, 2) for z in last["zero_fraction"]])
        print("  grad norm per layer:    ", [f"{g:.2e}" for g in last["grad_norm"]])
    return summary


if __name__ == "__main__":
    main()
