"""Callbacks with Keras 3's names and hooks."""
from .callback import Callback
from .callback_list import CallbackList
from .csv_logger import CSVLogger
from .early_stopping import EarlyStopping
from .history import History
from .lambda_callback import LambdaCallback
from .learning_rate_scheduler import LearningRateScheduler
from .model_checkpoint import ModelCheckpoint
from .monitor_callback import MonitorCallback
from .progbar_logger import ProgbarLogger
from .reduce_lr_on_plateau import ReduceLROnPlateau
from .tensorboard import TensorBoard
from .terminate_on_nan import TerminateOnNaN

__all__ = ['Callback', 'CallbackList', 'History', 'ModelCheckpoint', 'EarlyStopping',
           'ReduceLROnPlateau', 'CSVLogger', 'LearningRateScheduler', 'TerminateOnNaN',
           'LambdaCallback', 'MonitorCallback', 'ProgbarLogger', 'TensorBoard']
