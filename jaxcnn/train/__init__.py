"""jaxcnn.train: the one jit-compiled training loop (see docs/training.md)."""

from jaxcnn.train.adapters import Model as Model
from jaxcnn.train.callbacks import BestCheckpoint as BestCheckpoint
from jaxcnn.train.callbacks import Callback as Callback
from jaxcnn.train.callbacks import CSVLogger as CSVLogger
from jaxcnn.train.callbacks import EarlyStopping as EarlyStopping
from jaxcnn.train.callbacks import FitContext as FitContext
from jaxcnn.train.callbacks import JSONLLogger as JSONLLogger
from jaxcnn.train.callbacks import PlotCurves as PlotCurves
from jaxcnn.train.callbacks import TensorBoardLogger as TensorBoardLogger
from jaxcnn.train.config import TrainConfig as TrainConfig
from jaxcnn.train.data import Dataset as Dataset
from jaxcnn.train.data import epoch_order as epoch_order
from jaxcnn.train.export import export as export
from jaxcnn.train.export import load_exported as load_exported
from jaxcnn.train.loop import FitResult as FitResult
from jaxcnn.train.loop import NonFiniteLossError as NonFiniteLossError
from jaxcnn.train.loop import evaluate as evaluate
from jaxcnn.train.loop import fit as fit
from jaxcnn.train.loop import init_variables as init_variables
from jaxcnn.train.loop import predict as predict
from jaxcnn.train.provenance import ProvenanceError as ProvenanceError
from jaxcnn.train.state import TrainState as TrainState
from jaxcnn.train.tuned import compile_tuned as compile_tuned
from jaxcnn.train.tuned import jit_tuned as jit_tuned
