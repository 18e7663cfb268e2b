"""jax.export of a CNN with a symbolic batch size: the CPU lowerings take symbolic shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import linen as nn
from jax import export

from jaxcnn import config
from jaxcnn import layers as L


class _Net(nn.Module):
    """Every CPU lowering the fallback rule picks: lanes (3 channels), rows (2-D), lax (1-D),
    and a strided transposed convolution (phases)."""

    @nn.compact
    def __call__(self, x):  # (N, 12, 10, 1)
        x = nn.relu(L.Conv2D(3, 3, padding="SAME")(x))  # lanes
        x = nn.relu(L.Conv2D(8, 3, padding="SAME")(x))  # rows
        x = nn.relu(L.ConvTranspose2D(4, 4, stride=2, padding=1)(x))  # (N, 24, 20, 4)
        x = L.MaxPool(2)(x)
        x = nn.relu(L.Conv1D(6, 3)(x.reshape(x.shape[0], -1, x.shape[-1])))  # lax
        return L.Dense(5)(jnp.mean(x, axis=1))


@pytest.mark.parametrize("tuner", [False, True], ids=["rule", "tuner-on"])
def test_export_with_a_symbolic_batch_runs_every_batch_size(tuner, tmp_path, monkeypatch):
    monkeypatch.setenv("JAXCNN_DATA", str(tmp_path))  # the tuner never measures symbolic shapes
    model = _Net()
    x = np.random.default_rng(0).standard_normal((3, 12, 10, 1)).astype(np.float32)
    v = jax.jit(model.init)(jax.random.key(0), x)
    want = [jax.jit(model.apply)(v, x[:n]) for n in (1, 3)]  # the rule, concrete shapes
    (b,) = export.symbolic_shape("b")
    spec = jax.ShapeDtypeStruct((b, 12, 10, 1), jnp.float32)
    with config.autotune(tuner):
        exported = export.export(jax.jit(model.apply))(v, spec)
    assert not (tmp_path / "autotune").exists()  # nothing measured: the shapes are symbolic
    for n, w in zip((1, 3), want, strict=True):
        got = exported.call(v, x[:n])
        np.testing.assert_allclose(np.asarray(got), np.asarray(w), rtol=1e-4, atol=1e-5)


def test_one_export_for_cpu_and_gpu_keeps_both_branches():
    """Exported for CPU and CUDA: the GPU branch is one convolution, the CPU one the engine's."""
    x = jax.ShapeDtypeStruct((4, 9, 9, 3), jnp.float32)
    k = jax.ShapeDtypeStruct((3, 3, 3, 3), jnp.float32)
    f = jax.jit(lambda x, k: L.Conv2D(3, 3).apply({"params": {"kernel": k, "bias": k[0, 0, 0]}}, x))
    exported = export.export(f, platforms=("cpu", "cuda"))(x, k)
    assert exported.platforms == ("cpu", "cuda")
    assert "stablehlo.convolution" in exported.mlir_module()  # the CUDA branch
    # Exported for one platform, only its branch is left: the lanes lowering on the CPU (no
    # convolution op), one convolution on CUDA.
    cpu_only = export.export(f, platforms=("cpu",))(x, k).mlir_module()
    cuda_only = export.export(f, platforms=("cuda",))(x, k).mlir_module()
    assert "stablehlo.convolution" not in cpu_only
    assert "stablehlo.convolution" in cuda_only
    xs = np.ones((4, 9, 9, 3), np.float32)
    ks = np.full((3, 3, 3, 3), 0.5, np.float32)
    np.testing.assert_allclose(np.asarray(exported.call(xs, ks)), 13.5 + 0.5, rtol=1e-6)
