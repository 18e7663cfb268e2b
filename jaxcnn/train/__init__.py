"""jaxcnn.train: the one jit-compiled training loop (see docs/training.md)."""

from jaxcnn.train.config import TrainConfig as TrainConfig
from jaxcnn.train.data import Dataset as Dataset
from jaxcnn.train.data import epoch_order as epoch_order
from jaxcnn.train.loop import FitResult as FitResult
from jaxcnn.train.loop import NonFiniteLossError as NonFiniteLossError
from jaxcnn.train.loop import evaluate as evaluate
from jaxcnn.train.loop import fit as fit
from jaxcnn.train.loop import init_variables as init_variables
from jaxcnn.train.loop import predict as predict
