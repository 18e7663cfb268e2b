"""The public convolutions with a ``lowering=`` keyword, for tests that compare CPU lowerings.

The library forces a lowering with ``jaxcnn.config.lowering(name)`` (a scoped setting read at
trace time); these wrappers trace the call inside that block, so a test can still write
``conv2d(x, k, lowering="rows")``. ``lowering=None`` (or ``"auto"``) leaves the setting alone.
"""

from __future__ import annotations

import functools

from jaxcnn import config
from jaxcnn import functional as F


def _forced(f):
    @functools.wraps(f)
    def call(*args, lowering=None, **kwargs):
        if lowering is None:
            return f(*args, **kwargs)
        with config.lowering(lowering):
            return f(*args, **kwargs)

    return call


conv1d = _forced(F.conv1d)
conv2d = _forced(F.conv2d)
conv_transpose1d = _forced(F.conv_transpose1d)
conv_transpose2d = _forced(F.conv_transpose2d)


def cpu_eqns(jaxpr) -> list:
    """Every equation of ``jaxpr`` (a ``Jaxpr`` or ``ClosedJaxpr``), nested ones included, with
    each ``platform_dependent`` choice replaced by its CPU branch: what runs on a CPU."""
    jaxpr = getattr(jaxpr, "jaxpr", jaxpr)
    out = []
    for e in jaxpr.eqns:
        platforms = e.params.get("branches_platforms") if e.primitive.name == "cond" else None
        if platforms:
            cpu = next(i for i, p in enumerate(platforms) if p is not None and "cpu" in p)
            out += cpu_eqns(e.params["branches"][cpu])
            continue
        out.append(e)
        for p in e.params.values():
            for q in p if isinstance(p, tuple) else (p,):
                inner = getattr(q, "jaxpr", q)
                if hasattr(inner, "eqns"):
                    out += cpu_eqns(inner)
    return out
