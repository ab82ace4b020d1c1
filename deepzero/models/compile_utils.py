"""What ``compile(loss=..., metrics=...)`` turns into.

``CompiledLoss`` resolves loss names / functions / Loss objects (one per
output, or one for all outputs) and computes the total training loss.
``CompiledMetrics`` resolves metric names to Metric objects once the first
batch shows the shapes -- 'accuracy' / 'acc' become binary, sparse
categorical or categorical accuracy exactly as Keras 3 chooses -- and keeps
the names the user wrote, so ``metrics=['acc']`` logs 'acc' / 'val_acc'.
"""
from .. import losses as losses_module
from .. import metrics as metrics_module
from ..core import Variable

ACCURACY_NAMES = ('accuracy', 'acc')
CROSSENTROPY_NAMES = ('crossentropy', 'ce')


def binary_or_sparse(y_true, y_pred):
    """Keras's rule: binary when the prediction has one unit; sparse
    categorical when the labels have fewer dims, or a last axis of 1 against
    several units."""
    is_binary = y_pred.shape[-1] == 1
    is_sparse = y_true.ndim < y_pred.ndim or (y_true.shape[-1] == 1 and y_pred.shape[-1] > 1)
    return is_binary, is_sparse


def _as_list(value):
    return list(value) if isinstance(value, (list, tuple)) else [value]


class CompiledLoss:
    """Total loss = sum_i loss_weights[i] * loss_i(y_true[i], y_pred[i], sample_weight).

    Each loss_i is a Loss object (reduction: sum(w * l) / N by default);
    plain functions and names are wrapped in a LossFunctionWrapper.
    """

    def __init__(self, loss, loss_weights=None):
        if loss is None:
            raise ValueError("compile(): a `loss` is required to train the model")
        self.identifiers = loss
        self.loss_weights = loss_weights
        # resolve names now, so a typo fails at compile time
        for identifier in _as_list(loss):
            if str(identifier).lower() not in CROSSENTROPY_NAMES:
                losses_module.get(identifier)
        self._losses = None

    def build(self, y_true, y_pred):
        identifiers = _as_list(self.identifiers)
        if len(identifiers) == 1:
            identifiers = identifiers * len(y_pred)
        if len(identifiers) != len(y_pred):
            raise ValueError(f"compile(): {len(identifiers)} losses were given for a model "
                             f"with {len(y_pred)} outputs")
        self._losses = [self._resolve(i, t, p) for i, t, p in zip(identifiers, y_true, y_pred)]
        weights = self.loss_weights
        self._weights = [1.0] * len(y_pred) if weights is None else _as_list(weights)
        if len(self._weights) != len(y_pred):
            raise ValueError(f"compile(): {len(self._weights)} loss_weights for "
                             f"{len(y_pred)} outputs")

    @staticmethod
    def _resolve(identifier, y_true, y_pred):
        if str(identifier).lower() in CROSSENTROPY_NAMES:
            is_binary, is_sparse = binary_or_sparse(y_true, y_pred)
            identifier = ('binary_crossentropy' if is_binary else
                          'sparse_categorical_crossentropy' if is_sparse else
                          'categorical_crossentropy')
        loss = losses_module.get(identifier)
        if not isinstance(loss, losses_module.Loss):
            name = identifier if isinstance(identifier, str) else None
            loss = losses_module.LossFunctionWrapper(loss, name=name)
        return loss

    def __call__(self, y_true, y_pred, sample_weight=None):
        """y_true, y_pred: lists (one entry per output); returns a 0-d Variable."""
        if self._losses is None:
            self.build(y_true, y_pred)
        total = None
        for loss, weight, t, p in zip(self._losses, self._weights, y_true, y_pred):
            if t is None:
                raise ValueError("The model has a loss but no target (y) was given for it")
            value = loss(t, p, sample_weight)
            if weight != 1.0:
                value = value * weight
            total = value if total is None else total + value
        return total


class CompiledMetrics:
    """The compiled metrics of a single-output model, in the order given."""

    def __init__(self, metrics):
        if metrics is None:
            metrics = []
        if isinstance(metrics, dict):
            raise NotImplementedError("compile(): metrics given per output name (a dict) are "
                                      "not supported; pass a list")
        self.identifiers = _as_list(metrics)
        for identifier in self.identifiers:   # fail at compile time on unknown names
            if not (isinstance(identifier, str) and identifier.lower() in ACCURACY_NAMES):
                metrics_module.get(identifier)
        self.metrics = None

    @property
    def names(self):
        if self.metrics is not None:
            return [m.name for m in self.metrics]
        return [i if isinstance(i, str) else getattr(i, 'name', getattr(i, '__name__', str(i)))
                for i in self.identifiers]

    def build(self, y_true, y_pred):
        if self.identifiers and len(y_pred) > 1:
            raise NotImplementedError("compile(): metrics for models with several outputs "
                                      "are not supported")
        self.metrics = [self._resolve(i, y_true[0], y_pred[0]) for i in self.identifiers]

    @staticmethod
    def _resolve(identifier, y_true, y_pred):
        if isinstance(identifier, str) and identifier.lower() in ACCURACY_NAMES:
            is_binary, is_sparse = binary_or_sparse(y_true, y_pred)
            cls = (metrics_module.BinaryAccuracy if is_binary else
                   metrics_module.SparseCategoricalAccuracy if is_sparse else
                   metrics_module.CategoricalAccuracy)
            return cls(name=identifier)
        metric = metrics_module.get(identifier)
        if isinstance(identifier, str):
            metric.name = identifier
        return metric

    def update_state(self, y_true, y_pred, sample_weight=None):
        """y_true, y_pred: lists of arrays (or Variables) per output."""
        if self.metrics is None:
            self.build(y_true, y_pred)
        for metric in self.metrics:
            metric.update_state(_data(y_true[0]), _data(y_pred[0]), sample_weight)

    def reset_state(self):
        for metric in self.metrics or []:
            metric.reset_state()

    def results(self):
        return {m.name: m.result() for m in self.metrics or []}


def _data(x):
    return x.data if isinstance(x, Variable) else x
