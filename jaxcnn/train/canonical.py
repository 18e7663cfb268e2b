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
      Control flow inside ``fn`` (``lax.scan`` / ``cond`` / ``while`` bodies, ``jax.checkpoint``)
      is left as it is.
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
            bind_params = eqn.primitive.get_bind_params(eqn.params)
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


def _canonical_conv(lhs, rhs, *, dimension_numbers, **params):
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
