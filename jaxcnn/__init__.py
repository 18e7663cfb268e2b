"""jaxcnn: a pure-functional convolutional network library in JAX.

- ``jaxcnn.functional``: pure functions (conv, conv_transpose, pooling, dense, dropout, norms).
- ``jaxcnn.layers``: thin Flax Linen modules over them, ``Sequential`` and residual blocks.
- ``jaxcnn.arith``: output sizes, parameter and FLOP counts, receptive fields, ``summary``.
- ``jaxcnn.train``: one jit-compiled training loop shared by every pipeline.
- ``jaxcnn.vision`` and ``jaxcnn.inspect``: image data, hand-made kernels, and tools to
  understand a trained CNN.
"""

__version__ = "0.1.0"
