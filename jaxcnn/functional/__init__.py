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
# isort: split
from jaxcnn.functional.dense import dense as dense
from jaxcnn.functional.dropout import dropout as dropout
from jaxcnn.functional.norm import batch_norm as batch_norm
from jaxcnn.functional.norm import batch_norm_train as batch_norm_train
from jaxcnn.functional.norm import layer_norm as layer_norm
from jaxcnn.functional.pool import avg_pool1d as avg_pool1d
from jaxcnn.functional.pool import avg_pool2d as avg_pool2d
from jaxcnn.functional.pool import global_avg_pool as global_avg_pool
from jaxcnn.functional.pool import global_max_pool as global_max_pool
from jaxcnn.functional.pool import max_pool1d as max_pool1d
from jaxcnn.functional.pool import max_pool2d as max_pool2d
