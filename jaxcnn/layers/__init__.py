"""Thin Flax Linen layers over :mod:`jaxcnn.functional`, channels-last (NWC / NHWC).

Parameters are plain pytrees with WIO / HWIO kernels; see :mod:`jaxcnn.layers.init` for the
default initialisation (Flax's ``lecun_normal`` kernels, zero biases) and PyTorch's.
"""

from jaxcnn.layers.conv import Conv1D as Conv1D
from jaxcnn.layers.conv import Conv2D as Conv2D
from jaxcnn.layers.conv import ConvTranspose1D as ConvTranspose1D
from jaxcnn.layers.conv import ConvTranspose2D as ConvTranspose2D
from jaxcnn.layers.misc import Dense as Dense
from jaxcnn.layers.misc import Dropout as Dropout
from jaxcnn.layers.misc import Flatten as Flatten
from jaxcnn.layers.norm import BatchNorm as BatchNorm
from jaxcnn.layers.norm import LayerNorm as LayerNorm
from jaxcnn.layers.pool import AvgPool as AvgPool
from jaxcnn.layers.pool import GlobalAvgPool as GlobalAvgPool
from jaxcnn.layers.pool import GlobalMaxPool as GlobalMaxPool
from jaxcnn.layers.pool import MaxPool as MaxPool
from jaxcnn.layers.residual import ResidualBlock1D as ResidualBlock1D
from jaxcnn.layers.residual import ResidualBlock2D as ResidualBlock2D
from jaxcnn.layers.sequential import Sequential as Sequential
