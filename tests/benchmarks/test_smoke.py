"""benchmarks/ run end to end at a tiny size: the scripts that back the README's speed figures
do not rot. Only structure and arithmetic are checked here; no timing is asserted."""

import json
import re
import statistics

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from benchmarks import conv_speed, train_loop


def test_conv_speed_train_flops_count_the_models_by_hand():
    # The notes' MLP: 840*128 + 128*128 + 128*128 + 128*138 multiply-adds forward; backward twice
    # that, less the first layer's input gradient; 2 FLOPs per multiply-add.
    macs = [840 * 128, 128 * 128, 128 * 128, 128 * 138]
    assert conv_speed.train_flops("mlp") == 2 * (3 * sum(macs) - macs[0])
    # LeNet's second convolution dominates: 14 * 14 output pixels * 25 taps * 32 * 64.
    assert conv_speed.train_flops("lenet") > 6 * 14 * 14 * 25 * 32 * 64


@pytest.mark.parametrize("row", ["lenet", "cnn10", "text"])
def test_conv_speed_models_match_plain_flax(row):
    # The jaxcnn column runs the plain-Flax model's arithmetic: with Flax's parameters renamed
    # (nn.Conv's conv0/kernel -> conv0_kernel), the same logits to float tolerance.
    _, shape, _ = conv_speed.ROWS[row]
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, *shape)), jnp.float32)
    flax_model = conv_speed.JAX_MODELS[row](ours=False)
    params = flax_model.init(jax.random.key(0), x)["params"]
    ours = {}
    for name, leaf in params.items():
        if name.startswith("conv"):
            ours[f"{name}_kernel"], ours[f"{name}_bias"] = leaf["kernel"], leaf["bias"]
        else:
            ours[name] = leaf
    want = flax_model.apply({"params": params}, x)
    got = conv_speed.JAX_MODELS[row](ours=True).apply({"params": ours}, x)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def _program(row: str, ours: bool) -> list[str]:
    """The row's compiled training step as sorted HLO lines, names and source locations removed."""
    batch, shape, _ = conv_speed.ROWS[row]
    x, y = jnp.ones((batch, *shape)), jnp.zeros((batch,), jnp.int32)
    model = conv_speed.JAX_MODELS[row](ours=ours)
    params = model.init(jax.random.key(0), x[:1])["params"]
    tx = optax.adam(1e-3)
    step = conv_speed.train_step(model, tx)
    text = jax.jit(step, donate_argnums=(0, 1)).lower(params, tx.init(params), x, y)
    text = text.compile().as_text()
    text = re.sub(r", metadata=\{[^}]*\}", "", text[text.index("HloModule") :])
    text = re.sub(r"%[\w.\-]+", "%v", text)
    tables = ("FileNames", "FunctionNames", "FileLocations", "StackFrames")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return sorted(ln for ln in lines if not re.match(r"\d+ ", ln) and not ln.startswith(tables))


def test_conv_speed_mlp_step_compiles_to_plain_flaxs_program():
    # Issue 23 asks the MLP per call to be at least plain Flax: with the library's Dense layers
    # the compiled step is plain Flax's, instruction for instruction (per-call timings that
    # differ are this machine's noise, not the library's cost).
    ours, flax = _program("mlp", True), _program("mlp", False)
    assert len(ours) > 100 and any("dot(" in ln or "__ynn" in ln for ln in ours)
    assert ours == flax


def test_conv_speed_jax_step_lowers_the_loss(monkeypatch):
    monkeypatch.setitem(conv_speed.ROWS, "lenet", (4, *conv_speed.ROWS["lenet"][1:]))
    run = conv_speed.jax_step("lenet", ours=True)
    losses = [float(run()) for _ in range(3)]
    assert losses[2] < losses[0]  # Adam on one fixed batch


def test_conv_speed_scanned_steps_are_the_single_steps(monkeypatch):
    # jaxcnn_loop: three steps in one lax.scan (convolutions canonicalised) = three calls.
    monkeypatch.setitem(conv_speed.ROWS, "lenet", (4, *conv_speed.ROWS["lenet"][1:]))
    single = conv_speed.jax_step("lenet", ours=True)
    losses = [float(single()) for _ in range(3)]
    scanned = float(conv_speed.jax_step("lenet", ours=True, scan=3)())
    np.testing.assert_allclose(scanned, losses[2], rtol=1e-5)
    assert losses[2] < losses[0]


def test_conv_speed_main_writes_its_json(tmp_path, monkeypatch):
    monkeypatch.setitem(conv_speed.ROWS, "mlp", (8, *conv_speed.ROWS["mlp"][1:]))
    monkeypatch.setattr(conv_speed, "matmul_peak", lambda: {"jax": 1.0})
    out = tmp_path / "rows.json"
    args = ["--rows", "mlp", "--repeats", "2", "--steps", "1", "--json", str(out)]
    result = conv_speed.main(args)
    assert json.loads(out.read_text())["rows"][0]["row"] == "mlp"
    entry = result["rows"][0]
    assert {"jaxcnn", "flax"} <= set(entry) and entry["jaxcnn"]["median"] > 0


def test_train_loop_runs_every_contender(monkeypatch, tmp_path):
    monkeypatch.setitem(train_loop.CASES, "mlp_b256", (train_loop.FrameMLP, (840,), 138, 16, 4))
    out = tmp_path / "loop.json"
    train_loop.main(["--cases", "mlp_b256", "--repeats", "2", "--no-torch", "--out", str(out)])
    (row,) = json.loads(out.read_text())["rows"]
    assert row["case"] == "mlp_b256" and row["batch"] == 16
    assert set(row["all"]) == {"this", "flax_step"}  # --no-torch: no torch contender
    for kind in ("this", "flax_step"):
        assert len(row["all"][kind]) == 2 and all(v > 0 for v in row["all"][kind])
        assert row[f"{kind}_ex_s"] == statistics.median(row["all"][kind])
    assert row["speedup_vs_flax_step"] == row["this_ex_s"] / row["flax_step_ex_s"]
    assert "torch_ex_s" not in row


def test_train_loop_tiny_job_runs(monkeypatch):
    monkeypatch.setitem(train_loop.TINY, "epochs", 1)
    row = train_loop.run_tiny(1)
    assert row["fit_s"] > 0 and row["flax_s"] > 0
    assert min(row["accuracy"]["fit"] + row["accuracy"]["flax"]) > 0.5  # both learned


def test_conv_operations_time_the_same_three_operations_under_every_lowering(monkeypatch):
    from benchmarks import conv_operations

    xs, ks = (2, 6, 5, 3), (3, 3, 3, 4)
    monkeypatch.setitem(conv_operations.LAYERS, "tiny", (xs, ks, "SAME"))
    rng = np.random.default_rng(1)
    x = jnp.asarray(rng.standard_normal(xs), jnp.float32)
    k = jnp.asarray(rng.standard_normal(ks), jnp.float32)
    ct = jnp.asarray(rng.standard_normal((2, 6, 5, 4)), jnp.float32)
    programs = {low: conv_operations.jax_programs(xs, ks, "SAME", low)
                for low in ("lax", "patches", "rows", "lanes")}  # fmt: skip
    outs = {low: {op: f(x, k, ct) for op, f in p.items()} for low, p in programs.items()}

    # The independent reference: the gradients of <conv(x, k), ct> through jax.lax.
    def inner(x, k):
        y = jax.lax.conv_general_dilated(
            x, k, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )
        return jnp.vdot(y, ct)

    want_x, want_k = jax.grad(inner, (0, 1))(x, k)
    for low, got in outs.items():
        np.testing.assert_allclose(got["input_grad"][0], want_x, rtol=1e-4, atol=1e-4, err_msg=low)
        np.testing.assert_allclose(got["kernel_grad"][0], want_k, rtol=1e-4, atol=1e-4, err_msg=low)
        np.testing.assert_allclose(got["forward"], outs["lax"]["forward"], rtol=1e-5, atol=1e-5)
    (entry,) = conv_operations.bench(["tiny"], repeats=1)
    assert entry["gflop"] == 2 * 2 * 6 * 5 * 4 * 27 / 1e9
    assert set(entry["ms"]) == set(conv_operations.OPERATIONS)
    assert {"lax", "patches", "rows", "lanes"} <= set(entry["ms"]["forward"])
    # Under several XLA option sets: each lowering timed under each, its numbers unchanged.
    from jaxcnn._cpu import xla_options

    if "no_ynn_conv" in xla_options.supported():
        (entry,) = conv_operations.bench(["tiny"], repeats=1, variants=("default", "no_ynn_conv"))
        assert {"lax@default", "lax@no_ynn_conv", "rows@no_ynn_conv"} <= set(entry["ms"]["forward"])
        other = conv_operations.jax_programs(
            xs, ks, "SAME", "lax", xla_options.options("no_ynn_conv")
        )
        np.testing.assert_allclose(other["kernel_grad"](x, k, ct)[0], want_k, rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"--xla: variant must be one of .*got 'fast'"):
        conv_operations.main(["--layers", "tiny", "--xla", "default,fast"])
