"""XLA CPU option sets: chosen per program by measurement, tuned for, and compiled with."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxcnn import config
from jaxcnn._cpu import autotune, engine, xla_options
from jaxcnn.functional import conv2d
from jaxcnn.train import TrainConfig, compile_tuned, evaluate, fit, jit_tuned, loop, programs
from tests.train.helpers import SmallCNN, digit_sets

DIMS = ("NHWC", "HWIO", "NHWC")
NEEDS_VARIANT = pytest.mark.skipif(
    "no_ynn_conv" not in xla_options.supported(),
    reason="this jaxlib does not accept the no_ynn_conv options",
)


@pytest.fixture
def fake_times(tmp_path, monkeypatch):
    """Candidate times from a table ``{(variant, lowering): seconds}`` instead of a clock."""
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))
    autotune.forget_memory()
    by_options = {json.dumps(o, sort_keys=True): v for v, o in xla_options.VARIANTS.items()}
    table, calls = {}, []

    def time_conv(conv, x_shape, kernel_shape, dtype, compiler_options=None):
        variant = by_options[json.dumps(compiler_options or {}, sort_keys=True)]
        lowering = conv.func.__name__.removeprefix("conv_")
        calls.append((variant, lowering, x_shape))
        return table[variant, lowering]

    monkeypatch.setattr(autotune, "time_conv", time_conv)
    yield table, calls
    autotune.forget_memory()


@NEEDS_VARIANT
def test_choose_sums_each_variants_best_lowerings_and_the_tracer_follows_it(fake_times):
    table, calls = fake_times
    # Under the defaults "rows" is best (2 s); without YNNPACK's convolutions "lax" (1 s).
    table.update({("default", n): t for n, t in [("lax", 3), ("patches", 4), ("rows", 2)]})
    table.update({("no_ynn_conv", n): t for n, t in [("lax", 1), ("patches", 4), ("rows", 5)]})
    x = jnp.ones((4, 10, 10, 8), jnp.float32)
    k1, k2 = jnp.ones((3, 3, 8, 16), jnp.float32), jnp.ones((3, 3, 16, 16), jnp.float32)

    def trace():  # a new function each time: jax caches the trace of one it has seen
        return jax.eval_shape(
            lambda x, k1, k2: conv2d(conv2d(x, k1, padding="SAME"), k2, padding="SAME"),
            x,
            k1,
            k2,
        )

    with config.autotune(True):
        with xla_options.planning() as totals:
            trace()
        assert totals == {"default": 4.0, "no_ynn_conv": 2.0}  # two convolutions each
        measured = len(calls)
        assert measured == 2 * 2 * 3  # convolutions x variants x candidates, then cached
        assert xla_options.choose(trace) == "no_ynn_conv"
        with xla_options.compiled_with("no_ynn_conv"), engine.record_choices() as seen:
            trace()
        with engine.record_choices() as seen_default:
            trace()
    assert [c["lowering"] for c in seen] == ["lax", "lax"]
    assert [c["lowering"] for c in seen_default] == ["rows", "rows"]
    assert len(calls) == measured  # every later answer came from the cache
    body = json.loads(autotune.cache_path().read_text())
    suffixed = [key for key in body["choices"] if key.endswith(" xla=no_ynn_conv")]
    assert len(suffixed) == 2 and len(body["choices"]) == 4


def test_choose_keeps_the_defaults_when_nothing_is_measured(fake_times):
    table, calls = fake_times
    x, k = jnp.ones((4, 6, 6, 2), jnp.float32), jnp.ones((3, 3, 2, 2), jnp.float32)
    with config.autotune(False):
        assert xla_options.choose(lambda: jax.eval_shape(lambda x: conv2d(x, k), x)) == "default"
    with config.autotune(True):
        assert xla_options.choose(lambda: jax.eval_shape(lambda x: jnp.tanh(x), x)) == "default"
    assert calls == []


def test_an_option_set_the_jaxlib_refuses_is_left_out_with_a_warning(monkeypatch):
    bogus = {"default": {}, "bogus": {"xla_cpu_no_such_flag_at_all": "1"}}
    monkeypatch.setattr(xla_options, "VARIANTS", bogus)
    xla_options.supported.cache_clear()
    try:
        with pytest.warns(UserWarning, match="'bogus' is not accepted by this jaxlib"):
            assert xla_options.supported() == ("default",)
    finally:
        xla_options.supported.cache_clear()


def test_a_variant_name_is_checked():
    with pytest.raises(ValueError, match=r"compiled_with: variant must be one of .*got 'fast'"):
        with xla_options.compiled_with("fast"):
            pass


@NEEDS_VARIANT
def test_no_ynn_conv_compiles_the_same_convolution_off_ynnpack():
    x = np.random.default_rng(0).standard_normal((4, 14, 14, 32)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((5, 5, 32, 64)).astype(np.float32)

    def conv(x, k):
        return lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DIMS)

    default = jax.jit(conv).lower(x, k).compile()
    if "__ynn" not in default.as_text():
        pytest.skip("XLA's defaults do not run this convolution on YNNPACK here")
    other = jax.jit(conv, compiler_options=xla_options.options("no_ynn_conv")).lower(x, k)
    other = other.compile()
    assert "__ynn" not in other.as_text()
    np.testing.assert_allclose(other(x, k), default(x, k), rtol=1e-5, atol=1e-4)


@NEEDS_VARIANT
def test_compile_tuned_compiles_with_the_variant_its_convolutions_favour(fake_times):
    table, _ = fake_times
    x = np.random.default_rng(0).standard_normal((4, 14, 14, 32)).astype(np.float32)
    k = np.random.default_rng(1).standard_normal((5, 5, 32, 64)).astype(np.float32)

    def f(x, k, scale):
        return conv2d(x, k, padding="SAME") * scale

    want = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DIMS) * 2.0
    # XLA's convolution is fastest without YNNPACK: compiled so, its one convolution "lax".
    table.update({("default", n): 3.0 for n in ("lax", "patches", "rows")})
    table.update({("no_ynn_conv", n): t for n, t in [("lax", 1), ("patches", 4), ("rows", 5)]})
    with config.autotune(True), engine.record_choices() as seen:
        compiled = compile_tuned(f, x, k, 2.0, static_argnums=(2,))
    assert [(c["lowering"], c["xla"]) for c in seen] == [("lax", "no_ynn_conv")]
    assert "__ynn" not in compiled.as_text()
    np.testing.assert_allclose(compiled(x, k), want, rtol=1e-4, atol=1e-3)
    # The tuner off: exactly the plain ahead-of-time compile, nothing timed.
    with engine.record_choices() as seen:
        plain = compile_tuned(f, x, k, 2.0, static_argnums=(2,))
    assert [c["xla"] for c in seen] == ["default"]
    np.testing.assert_allclose(plain(x, k), want, rtol=1e-4, atol=1e-3)


def test_compile_tuned_refuses_what_it_cannot_compile():
    x = np.ones((2, 5, 5, 1), np.float32)
    with pytest.raises(TypeError, match="compile_tuned: fun must be callable, got ndarray"):
        compile_tuned(x, x)
    # A trace error reaches the caller unchanged (here the library's own argument check).
    with pytest.raises(ValueError, match=r"conv2d: kernel must have C_in // groups = 1 input"):
        compile_tuned(lambda x: conv2d(x, np.ones((3, 3, 2, 1), np.float32)), x)


@NEEDS_VARIANT
def test_jit_tuned_chooses_per_argument_shapes_and_keeps_the_choice(fake_times):
    table, calls = fake_times
    table.update({("default", n): 3.0 for n in ("lax", "patches", "rows")})
    table.update({("no_ynn_conv", n): t for n, t in [("lax", 1), ("patches", 4), ("rows", 5)]})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 14, 14, 32)).astype(np.float32)
    k = rng.standard_normal((5, 5, 32, 64)).astype(np.float32)
    f = jit_tuned(lambda x, k: conv2d(x, k, padding="SAME"))
    with config.autotune(True), engine.record_choices() as seen:
        got = f(x, k)
        timed = len(calls)
        again = f(x, k)  # the same shapes: nothing traced or timed again
        assert len(calls) == timed and len(seen) == 1
        f(x[:2], k)  # new shapes: chosen (and timed) for them
    assert [(c["lowering"], c["xla"]) for c in seen] == [("lax", "no_ynn_conv")] * 2
    assert len(calls) > timed
    want = lax.conv_general_dilated(x, k, (1, 1), "SAME", dimension_numbers=DIMS)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(again, got)
    # The tuner off: plain jax.jit, XLA's defaults, nothing timed.
    timed = len(calls)
    with engine.record_choices() as seen:
        plain = jit_tuned(lambda x, k: conv2d(x, k, padding="SAME"))(x, k)
    assert [c["xla"] for c in seen] == ["default"] and len(calls) == timed
    np.testing.assert_allclose(plain, want, rtol=1e-4, atol=1e-3)


def test_jit_tuned_refuses_what_it_cannot_take():
    with pytest.raises(TypeError, match="jit_tuned: fun must be callable, got int"):
        jit_tuned(3)
    with pytest.raises(TypeError, match="jit_tuned: compiler_options are chosen by measurement"):
        jit_tuned(lambda x: x, compiler_options={})


@NEEDS_VARIANT
def test_fit_compiles_its_step_and_evaluations_with_the_variant_chosen(monkeypatch):
    train, test = digit_sets(n_train=128)
    cfg = TrainConfig(epochs=2, batch_size=32, learning_rate=1e-2)
    programs.clear()
    want = fit(SmallCNN(), train, test, cfg)
    used = []
    real = xla_options.options
    monkeypatch.setattr(xla_options, "options", lambda name: used.append(name) or real(name))
    monkeypatch.setattr(xla_options, "choose", lambda trace: "no_ynn_conv")
    programs.clear()
    loop._eval_program.cache_clear()  # an equal model's evaluation pass would be reused
    got = fit(SmallCNN(), train, test, cfg)
    programs.clear()
    # One jitted training program and one evaluation pass, both with the chosen set.
    assert used.count("no_ynn_conv") == 2, used
    for key in ("train_loss", "eval_loss", "eval_accuracy"):
        np.testing.assert_allclose(
            [h[key] for h in got.history], [h[key] for h in want.history], rtol=1e-4
        )
    # A standalone evaluation measures nothing and keeps XLA's defaults.
    used.clear()
    loop._eval_program.cache_clear()
    alone = evaluate(SmallCNN(), got.variables, test, num_classes=10)
    assert "no_ynn_conv" not in used
    assert alone["accuracy"] == got.eval["accuracy"]
