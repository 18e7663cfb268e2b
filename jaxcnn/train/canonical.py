"""Every convolution of a function in the one layout XLA's CPU loops run fast.

XLA's CPU compiler runs a convolution on its fast (Eigen) kernel only in the canonical layout:
input ``(N, *spatial, C)``, kernel ``(*window, I, O)``, output ``(N, *spatial, C)``
(``dim_labels=b01f_01io->b01f``). Its ``ConvCanonicalization`` pass puts other convolutions in
that layout with transposes around them, but it visits only the entry computation
(``module->entry_computation()`` in ``xla/service/cpu/conv_canonicalization.cc``). JAX's
gradients of a channels-last convolution are such other convolutions (the kernel gradient
contracts over the batch, ``f0b_i0o->0bf``; the input gradient swaps the kernel's ``I`` and
``O``), so inside the body of a ``lax.scan`` they fall to a naive loop, 10-15x slower
(docs/training.md).

:func:`canonicalize_convolutions` traces a function to a jaxpr and evaluates it again with
every ``conv_general_dilated`` written as the pass would write it: transposes to the canonical
layout, the convolution, a transpose back. The numbers are the same (a transpose moves data and
nothing else); the training loop wraps its step in it so that one ``lax.scan`` can run many
steps of a convolutional model (``jaxcnn.train.step``).

Only the CPU needs this: each rewritten convolution is a ``lax.platform_dependent`` choice
between the canonical form (CPU) and the convolution as it was (GPU, TPU: cuDNN takes any
layout). Convolutions inside ``cond`` branches, where ``jaxcnn.functional``'s backend boundary
puts them, are rewritten too.
"""

from __future__ import annotations

import functools
import re

import jax
import numpy as np
from jax import lax
from jax.extend import core

# jax.extend.core has DropVar from jax 0.10; before, an output nobody reads is stored and ignored.
_DROP_VAR = getattr(core, "DropVar", ())
# Call-like primitives whose body is evaluated in line. The training step is differentiated
# before it is wrapped, so a custom rule (custom_jvp / custom_vjp) is never needed again.
_INLINE = {
    "pjit": "jaxpr",
    "jit": "jaxpr",
    "closed_call": "call_jaxpr",
    "core_call": "call_jaxpr",
    "custom_jvp_call": "call_jaxpr",
    "custom_vjp_call": "call_jaxpr",
}


def canonicalize_convolutions(fn):
    """``fn`` with every convolution it traces in XLA's canonical CPU layout.

    Args:
      fn: a function of arrays (pytrees allowed) that JAX can trace, e.g. a training step;
        it may already contain gradients (its convolutions' transposes are rewritten too).

    Returns:
      A function with the same signature and the same results, whose every
      ``lax.conv_general_dilated`` takes ``(N, *spatial, C)`` and ``(*window, I, O)`` operands
      and returns ``(N, *spatial, C)``, with explicit transposes where ``fn``'s layout differs.
      Control flow inside ``fn`` is kept; the convolutions of ``cond`` branches and ``scan`` /
      ``while`` bodies are rewritten too (not those inside ``jax.checkpoint``).
    """

    @functools.wraps(fn)
    def wrapped(*args, **kwargs):
        flat, tree = jax.tree.flatten((args, kwargs))

        def flat_fn(*leaves):
            a, k = jax.tree.unflatten(tree, leaves)
            return fn(*a, **k)

        closed, out_shape = jax.make_jaxpr(flat_fn, return_shape=True)(*flat)
        outs = _eval(closed.jaxpr, closed.consts, flat)
        return jax.tree.unflatten(jax.tree.structure(out_shape), outs)

    return wrapped


def is_canonical_stablehlo(text: str) -> bool:
    """Whether every ``stablehlo.convolution`` in lowered ``text`` has the canonical layout.

    Canonical: ``dim_numbers = [b, 0, ..., f]x[0, ..., i, o]->[b, 0, ..., f]``; ``True`` when
    ``text`` has no convolution at all.
    """
    for lhs, rhs, out in re.findall(r"dim_numbers = \[([^\]]*)\]x\[([^\]]*)\]->\[([^\]]*)\]", text):
        spatial = [s.strip() for s in lhs.split(",")][1:-1]
        want_io = ", ".join([*spatial, "i", "o"])
        want_bf = ", ".join(["b", *spatial, "f"])
        if (lhs.strip(), rhs.strip(), out.strip()) != (want_bf, want_io, want_bf):
            return False
    return True


def _eval(jaxpr, consts, args):
    """Evaluate ``jaxpr`` with its convolutions canonicalised (and its calls in line)."""
    env: dict = {}

    def read(v):
        return v.val if isinstance(v, core.Literal) else env[v]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value
    for var, value in zip(jaxpr.invars, args, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        invals = [read(v) for v in eqn.invars]
        name = eqn.primitive.name
        if name == "conv_general_dilated":
            outvals = [_canonical_conv(*invals, **eqn.params)]
        elif name in _INLINE and _INLINE[name] in eqn.params:
            sub = eqn.params[_INLINE[name]]
            sub_jaxpr, sub_consts = (sub.jaxpr, sub.consts) if hasattr(sub, "consts") else (sub, [])
            outvals = _eval(sub_jaxpr, sub_consts, invals)
        else:
            # cond branches (jaxcnn's platform_dependent convolutions), scan / while bodies:
            # their convolutions are rewritten in place, the control flow kept.
            params = {k: _rewrite_param(v) for k, v in eqn.params.items()}
            bind_params = eqn.primitive.get_bind_params(params)
            subfuns = []
            if isinstance(bind_params, tuple):  # jax < 0.10 returns (subfuns, params)
                subfuns, bind_params = bind_params
            outvals = eqn.primitive.bind(*subfuns, *invals, **bind_params)
            if not eqn.primitive.multiple_results:
                outvals = [outvals]
        for var, value in zip(eqn.outvars, outvals, strict=True):
            if not isinstance(var, _DROP_VAR):
                env[var] = value
    return [read(v) for v in jaxpr.outvars]


def _rewrite_param(value):
    """A primitive's parameter with every jaxpr in it that has a convolution rewritten.

    Closed jaxprs: ``cond`` branches, ``scan`` / ``while`` bodies. Open ones (no constants):
    the body of a ``jax.checkpoint`` (remat) region or a ``shard_map``; rewritten through a
    closed jaxpr, and kept as they were should the rewrite need constants (an open jaxpr has
    nowhere to put them).
    """
    jaxprs = (core.ClosedJaxpr, core.Jaxpr)
    if isinstance(value, tuple) and any(isinstance(v, jaxprs) for v in value):
        return tuple(_rewrite_param(v) for v in value)
    if isinstance(value, core.ClosedJaxpr) and _has_conv(value.jaxpr):
        return _rewrite_closed(value)
    if isinstance(value, core.Jaxpr) and not value.constvars and _has_conv(value):
        rewritten = _rewrite_closed(core.ClosedJaxpr(value, ()))
        return value if rewritten.consts else rewritten.jaxpr
    return value


def _has_conv(jaxpr) -> bool:
    """Whether ``jaxpr`` (an open one) has a ``conv_general_dilated``, nested ones included."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            return True
        for v in eqn.params.values():
            for q in v if isinstance(v, tuple) else (v,):
                inner = getattr(q, "jaxpr", q)
                if hasattr(inner, "eqns") and _has_conv(inner):
                    return True
    return False


def _rewrite_closed(closed):
    """A closed jaxpr (a ``cond`` branch, a loop body) with its convolutions canonicalised."""
    avals = [jax.ShapeDtypeStruct(v.aval.shape, v.aval.dtype) for v in closed.jaxpr.invars]
    return jax.make_jaxpr(lambda *a: _eval(closed.jaxpr, closed.consts, a))(*avals)


def _canonical_conv(lhs, rhs, **params):
    """One ``conv_general_dilated``: canonical on the CPU, unchanged on other platforms."""

    def unchanged(lhs, rhs):
        return lax.conv_general_dilated_p.bind(lhs, rhs, **params)

    return lax.platform_dependent(
        lhs, rhs, cpu=lambda a, b: _canonical_cpu(a, b, **params), default=unchanged
    )


def _canonical_cpu(lhs, rhs, *, dimension_numbers, **params):
    """One ``conv_general_dilated`` in the canonical layout, transposed in and out."""
    lhs_spec, rhs_spec, out_spec = dimension_numbers
    n = len(lhs_spec) - 2
    spatial = tuple(range(1, n + 1))
    canonical = lax.ConvDimensionNumbers(
        lhs_spec=(0, n + 1, *spatial), rhs_spec=(n + 1, n, *range(n)), out_spec=(0, n + 1, *spatial)
    )
    if tuple(map(tuple, dimension_numbers)) == tuple(map(tuple, canonical)):
        return lax.conv_general_dilated_p.bind(
            lhs, rhs, dimension_numbers=dimension_numbers, **params
        )
    # A spec lists (batch, feature, *spatial) axes; the canonical order is (batch, *spatial,
    # feature) for activations and (*spatial, in, out) for the kernel.
    lhs_perm = (lhs_spec[0], *lhs_spec[2:], lhs_spec[1])
    rhs_perm = (*rhs_spec[2:], rhs_spec[1], rhs_spec[0])
    out_perm = (out_spec[0], *out_spec[2:], out_spec[1])
    y = lax.conv_general_dilated_p.bind(
        lax.transpose(lhs, lhs_perm),
        lax.transpose(rhs, rhs_perm),
        dimension_numbers=canonical,
        **params,
    )
    return lax.transpose(y, tuple(int(a) for a in np.argsort(out_perm)))
