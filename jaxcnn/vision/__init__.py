"""Image data (IDX, CIFAR, image folders), normalisation, augmentation and hand-made kernels."""

from jaxcnn.vision.augment import augment_batch as augment_batch
from jaxcnn.vision.augment import random_crop as random_crop
from jaxcnn.vision.augment import random_erasing as random_erasing
from jaxcnn.vision.augment import random_flip as random_flip
from jaxcnn.vision.cifar import load_cifar as load_cifar
from jaxcnn.vision.cifar import read_cifar_batch as read_cifar_batch
from jaxcnn.vision.folder import load_image_folder as load_image_folder
from jaxcnn.vision.idx import FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES
from jaxcnn.vision.idx import load_fashion_mnist as load_fashion_mnist
from jaxcnn.vision.idx import load_idx_pair as load_idx_pair
from jaxcnn.vision.idx import read_idx as read_idx
from jaxcnn.vision.idx import write_idx as write_idx
from jaxcnn.vision.kernels import box_response as box_response
from jaxcnn.vision.kernels import box_score as box_score
from jaxcnn.vision.kernels import detect_boxes as detect_boxes
from jaxcnn.vision.kernels import edge_magnitude as edge_magnitude
from jaxcnn.vision.kernels import sobel_edges as sobel_edges
from jaxcnn.vision.normalize import channel_stats as channel_stats
from jaxcnn.vision.normalize import normalize as normalize
