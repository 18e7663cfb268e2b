"""Pure functions over channels-last batches: the math of every ``jaxcnn`` layer.

Activations are ``(N, W, C)`` (1D) or ``(N, H, W, C)`` (2D); kernels are ``(K, C_in // groups,
C_out)`` (WIO) or ``(KH, KW, C_in // groups, C_out)`` (HWIO), as ``jax.lax`` expects them.
"""

# convolution
from jaxcnn.functional.conv import conv1d as conv1d
from jaxcnn.functional.conv import conv2d as conv2d

# pooling, dense, dropout, normalisation
# (this section belongs to the pooling / dense / dropout / norm helper)
