"""Pure functions over channels-last batches: the math of every ``jaxcnn`` layer.

Activations are ``(N, W, C)`` (1D) or ``(N, H, W, C)`` (2D); kernels are ``(K, C_in // groups,
C_out)`` (WIO) or ``(KH, KW, C_in // groups, C_out)`` (HWIO), as ``jax.lax`` expects them.
"""

# convolution
from jaxcnn.functional.conv import conv1d as conv1d
from jaxcnn.functional.conv import conv2d as conv2d
from jaxcnn.functional.conv_transpose import conv_transpose1d as conv_transpose1d
from jaxcnn.functional.conv_transpose import conv_transpose2d as conv_transpose2d

# layouts (PyTorch's channels-first <-> channels-last)
from jaxcnn.functional.layout import kernel_from_torch as kernel_from_torch
from jaxcnn.functional.layout import kernel_to_torch as kernel_to_torch
from jaxcnn.functional.layout import to_channels_first as to_channels_first
from jaxcnn.functional.layout import to_channels_last as to_channels_last

# pooling, dense, dropout, normalisation
# (this section belongs to the pooling / dense / dropout / norm helper)
