"""Training curves from a ``fit`` History, drawn as in "Deep Learning with
Python" section 5.2: training values as blue dots ('bo'), validation values as
a blue line ('b'), against epochs 1..N.

matplotlib is an optional extra (``pip install deepzero[plot]``); it is
imported only when a plot is asked for.
"""
from ..core.files import atomic_write

# Accuracy metric names, most common first; any other history key holding
# 'acc' (e.g. 'categorical_accuracy', 'sparse_categorical_accuracy') is also
# taken as the accuracy curve.
_ACCURACY_NAMES = ('acc', 'accuracy', 'binary_accuracy')


def _history_dict(history):
    """A History (``.history``) or a plain dict -> dict name -> list of values."""
    logs = getattr(history, 'history', history)
    if not isinstance(logs, dict):
        raise TypeError(f"plot_history: expected a History or a dict of per-epoch lists, "
                        f"got {type(history).__name__}")
    return logs


def _accuracy_key(logs):
    """The training accuracy key of ``logs`` ('acc', 'accuracy', ...), or None."""
    for name in _ACCURACY_NAMES:
        if name in logs:
            return name
    for name in logs:
        if not name.startswith('val_') and 'acc' in name:
            return name
    return None


def _plot_pair(axes, logs, key, title):
    """Draw ``key`` (dots) and ``val_<key>`` (line, when present) on ``axes``."""
    values = logs[key]
    epochs = range(1, len(values) + 1)
    axes.plot(epochs, values, 'bo', label=f'Training {key}')
    if f'val_{key}' in logs:
        axes.plot(epochs, logs[f'val_{key}'], 'b', label=f'Validation {key}')
    axes.set_title(title)
    axes.set_xlabel('Epochs')
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.legend()


def _new_figure(size, interactive):
    """A matplotlib Figure: through pyplot (for ``show``) or a standalone one
    on the non-interactive Agg canvas (for files: no window, no display, and
    pyplot's global backend is left alone)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as error:
        raise ImportError("plot_history needs matplotlib: install it with "
                          "`pip install deepzero[plot]` (or `pip install matplotlib`)") from error
    if interactive:
        import matplotlib.pyplot as plt
        return plt.figure(figsize=size)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    figure = Figure(figsize=size)
    FigureCanvasAgg(figure)
    return figure


def plot_history(history, to_file=None, metrics=None):
    """Plot training and validation curves of a ``fit`` run.

    Args:
        history: the History returned by ``fit``, or its ``.history`` dict
            (e.g. loaded back from JSON).
        to_file: path of a PNG to write (atomically; drawn on the Agg canvas,
            no window opens). None shows the figure with ``plt.show()``.
        metrics: names of the curves to draw, one panel each (each with its
            ``val_`` twin when present). Default: the accuracy key ('acc',
            'accuracy', 'binary_accuracy', ...) when there is one, then
            'loss' -- the book's two figures, "Training and validation
            accuracy" and "Training and validation loss".

    Returns:
        The matplotlib Figure (panels side by side).
    """
    logs = _history_dict(history)
    if metrics is None:
        accuracy = _accuracy_key(logs)
        metrics = ([accuracy] if accuracy else []) + (['loss'] if 'loss' in logs else [])
    missing = [name for name in metrics if name not in logs]
    if missing or not metrics:
        raise ValueError(f"plot_history: no values for {missing or 'any curve'}; "
                         f"the history has {sorted(logs)}")
    accuracy = _accuracy_key(logs)
    figure = _new_figure((6 * len(metrics), 4.5), interactive=to_file is None)
    for axes, name in zip(figure.subplots(1, len(metrics), squeeze=False)[0], metrics):
        label = 'accuracy' if name == accuracy else name
        _plot_pair(axes, logs, name, f'Training and validation {label}')
    figure.tight_layout()
    if to_file is None:
        import matplotlib.pyplot as plt
        plt.show()
    else:
        with atomic_write(to_file) as temp_path:
            figure.savefig(temp_path, format='png')
    return figure
