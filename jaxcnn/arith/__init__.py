"""The arithmetic of CNNs in closed form: output sizes, parameter and FLOP counts, receptive
fields, and ``summary`` (a per-layer table built with ``jax.eval_shape``)."""

from jaxcnn.arith.counts import conv_macs as conv_macs
from jaxcnn.arith.counts import conv_params as conv_params
from jaxcnn.arith.counts import conv_transpose_macs as conv_transpose_macs
from jaxcnn.arith.counts import conv_transpose_params as conv_transpose_params
from jaxcnn.arith.counts import count_params as count_params
from jaxcnn.arith.counts import dense_macs as dense_macs
from jaxcnn.arith.counts import dense_params as dense_params
from jaxcnn.arith.counts import flops as flops
from jaxcnn.arith.receptive import Field as Field
from jaxcnn.arith.receptive import Window as Window
from jaxcnn.arith.receptive import receptive_fields as receptive_fields
from jaxcnn.arith.sizes import conv_output_shape as conv_output_shape
from jaxcnn.arith.sizes import conv_output_size as conv_output_size
from jaxcnn.arith.sizes import conv_transpose_output_size as conv_transpose_output_size
from jaxcnn.arith.sizes import pool_output_size as pool_output_size
from jaxcnn.arith.summary import summary as summary
