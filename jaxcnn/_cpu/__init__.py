"""Everything CPU-specific about convolutions, behind ``jaxcnn.functional``'s backend boundary.

``jaxcnn.functional.conv1d`` / ``conv2d`` / ``conv_transpose1d`` / ``conv_transpose2d`` check
their arguments and call ``jax.lax.platform_dependent``: on GPU and TPU the convolution is one
``lax.conv_general_dilated``; on the CPU it is :func:`jaxcnn._cpu.engine.conv` (or
``conv_transpose``), which runs one of several *lowerings* (``"lax"``, ``"patches"``,
``"rows"``, ``"lanes"``: :mod:`.rule`) chosen per shape by measurement on this machine
(:mod:`.autotune`) or forced with ``jaxcnn.config.lowering``. The choice between CPU and other
code is made when a function is lowered for a platform, so one traced or exported function runs
the right code everywhere. Nothing outside this package and ``functional/_backend.py`` knows
about lowerings. Two settings of whole CPU programs live here too, for the code that compiles
them (`jaxcnn.train`): the XLA option set their convolutions are tuned for (:mod:`.xla_options`)
and how their temporaries are grouped so that the C library reuses them (:mod:`.heaps`).
"""
