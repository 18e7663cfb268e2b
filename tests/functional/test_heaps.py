"""Temporaries grouped in blocks the C library reuses: the cap, its sizing and where it is used."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import export, lax

from jaxcnn._cpu import heaps
from jaxcnn.train import TrainConfig, compile_tuned, fit, jit_tuned, programs
from tests.train.helpers import SmallCNN, digit_sets

APPLIES = pytest.mark.skipif(not heaps.applies(), reason="not glibc, or jaxlib lacks the option")
# XLA's warning (C++, on stderr) for a value larger than the cap: the option reached XLA.
OVER_CAP = re.compile(r"Alloc buffer size (\d+) larger than the per-heap size limit (\d+)")


def _scanned(x):
    """A scan whose body makes a (64, 64, 8) float32 value (131,072 bytes), its largest."""

    def body(c, _):
        big = jnp.broadcast_to(c[:, :, None], (64, 64, 8)) * 2.0
        return c + big.sum(-1), None

    return lax.scan(body, x, None, length=3)[0]


def test_largest_value_bytes_looks_inside_nested_programs():
    x = jnp.ones((64, 64), jnp.float32)
    assert heaps.largest_value_bytes(jax.make_jaxpr(_scanned)(x)) == 64 * 64 * 8 * 4
    # inside a cond's branches, a pjit and a custom_jvp too; float16 counts 2 bytes
    f = jax.jit(lambda p, y: lax.cond(p, lambda y: jnp.tile(y, (3, 1)).max(0), lambda y: y[0], y))
    y = jnp.ones((100, 10), jnp.float16)
    assert heaps.largest_value_bytes(jax.make_jaxpr(f)(True, y)) == 300 * 10 * 2
    assert heaps.largest_value_bytes(jax.make_jaxpr(jax.nn.relu)(y)) == 100 * 10 * 2


def test_largest_value_bytes_skips_keys_and_symbolic_shapes():
    jaxpr = jax.make_jaxpr(lambda k: jax.random.split(k, 4))(jax.random.key(0))
    assert heaps.largest_value_bytes(jaxpr) == 4 * 8  # four keys of 8 bytes, no crash
    (b,) = export.symbolic_shape("b")
    sym = jax.make_jaxpr(lambda x: jnp.concatenate([x, x]) * 2.0)(
        jax.ShapeDtypeStruct((b, 5), jnp.float32)
    )
    assert heaps.largest_value_bytes(sym) == 0


@APPLIES
def test_the_cap_is_glibcs_reusable_size_or_the_largest_value_if_larger():
    small = jax.make_jaxpr(_scanned)(jnp.ones((64, 64), jnp.float32))
    assert heaps.compiler_options(small) == {heaps.OPTION: str(heaps.CAP_BYTES)}
    assert heaps.CAP_BYTES < 32 * 2**20  # glibc's DEFAULT_MMAP_THRESHOLD_MAX on 64-bit
    big = jax.make_jaxpr(lambda x: x * 2.0)(jax.ShapeDtypeStruct((12, 2**20), jnp.float32))
    assert heaps.compiler_options(big) == {heaps.OPTION: str(48 * 2**20)}


def _products(x):
    """Two matrix products: their (256, 256) inputs are temporaries XLA cannot fuse away."""
    y = jnp.sin(x) @ x
    return jnp.cos(y) @ y


def _tiny_cap(monkeypatch, cap=1024):
    """A cap under every buffer, so that XLA names each one on stderr if it got the option."""
    monkeypatch.setattr(heaps, "CAP_BYTES", cap)
    monkeypatch.setattr(heaps, "largest_value_bytes", lambda jaxpr: 0)


@APPLIES
def test_compile_tuned_and_jit_tuned_pass_the_cap_to_xla(monkeypatch, capfd):
    x = np.ones((256, 256), np.float32) / 256
    want = np.asarray(jax.jit(_products)(x))
    capfd.readouterr()
    compiled = compile_tuned(_products, x)
    assert capfd.readouterr().err.count("per-heap size limit") == 0  # the cap covers every value
    _tiny_cap(monkeypatch)
    capped = compile_tuned(_products, x)
    warned = OVER_CAP.findall(capfd.readouterr().err)
    assert warned and all(limit == "1024" for _, limit in warned)
    np.testing.assert_array_equal(capped(x), want)
    np.testing.assert_array_equal(compiled(x), want)
    np.testing.assert_array_equal(jit_tuned(_products)(x), want)
    assert OVER_CAP.search(capfd.readouterr().err)


@APPLIES
def test_fit_compiles_its_training_program_with_the_cap(monkeypatch, capfd):
    train, test = digit_sets(n_train=64)
    cfg = TrainConfig(epochs=1, batch_size=32, learning_rate=1e-2)
    programs.clear()
    want = fit(SmallCNN(), train, test, cfg)
    _tiny_cap(monkeypatch)
    programs.clear()
    capfd.readouterr()
    got = fit(SmallCNN(), train, test, cfg)
    assert OVER_CAP.search(capfd.readouterr().err)
    for k in ("train_loss", "eval_loss"):
        assert got.history[-1][k] == pytest.approx(want.history[-1][k], rel=1e-6)
    programs.clear()
