"""Tools to understand a trained CNN: filters, activation maps, dead filters, occlusion, receptive
fields."""

from jaxcnn.inspect.activations import conv_activations as conv_activations
from jaxcnn.inspect.activations import is_conv as is_conv
from jaxcnn.inspect.activations import module_outputs as module_outputs
from jaxcnn.inspect.activations import save_activation_maps as save_activation_maps
from jaxcnn.inspect.dead import ChannelStats as ChannelStats
from jaxcnn.inspect.dead import dead_filter_report as dead_filter_report
from jaxcnn.inspect.filters import filter_grid as filter_grid
from jaxcnn.inspect.filters import first_conv_kernel as first_conv_kernel
from jaxcnn.inspect.filters import save_filter_grid as save_filter_grid
from jaxcnn.inspect.occlusion import occlusion_map as occlusion_map
from jaxcnn.inspect.receptive import gradient_receptive_field as gradient_receptive_field
from jaxcnn.inspect.receptive import receptive_window as receptive_window
from jaxcnn.inspect.receptive import save_receptive_field as save_receptive_field
