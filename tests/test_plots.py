"""plot_history (training curves) and plot_model / model_to_dot (layer graphs)."""
import builtins
import importlib.util
import re
import shutil

import pytest

from deepzero.callbacks import History
from deepzero.keras import Input, Model, Sequential, layers
from deepzero.keras.utils import model_to_dot, plot_model
from deepzero.utils import plot_history

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec('matplotlib') is None,
                                      reason='matplotlib (the plot extra) is not installed')


def _logs(accuracy_key='acc', epochs=5, validation=True):
    logs = {'loss': [0.7 - 0.05 * i for i in range(epochs)],
            accuracy_key: [0.5 + 0.05 * i for i in range(epochs)]}
    if validation:
        logs['val_loss'] = [0.69 - 0.02 * i for i in range(epochs)]
        logs[f'val_{accuracy_key}'] = [0.5 + 0.03 * i for i in range(epochs)]
    return logs


def _titles(figure):
    return [axes.get_title() for axes in figure.axes]


# --- plot_history ---------------------------------------------------------------------
@needs_matplotlib
@pytest.mark.parametrize('accuracy_key', ['acc', 'accuracy', 'binary_accuracy'])
def test_history_png_has_both_book_figures(tmp_path, accuracy_key):
    out = tmp_path / 'curves.png'
    figure = plot_history(_logs(accuracy_key), to_file=str(out))
    data = out.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert 10_000 < len(data) < 1_000_000
    assert _titles(figure) == ['Training and validation accuracy', 'Training and validation loss']
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


@needs_matplotlib
def test_history_curves_are_dots_for_training_and_a_line_for_validation(tmp_path):
    logs = _logs('acc', epochs=4)
    figure = plot_history(logs, to_file=str(tmp_path / 'c.png'))
    training, validation = figure.axes[0].get_lines()
    assert list(training.get_xdata()) == [1, 2, 3, 4]
    assert list(training.get_ydata()) == logs['acc']
    assert training.get_marker() == 'o' and training.get_linestyle() == 'None'
    assert list(validation.get_ydata()) == logs['val_acc']
    assert validation.get_linestyle() == '-' and validation.get_marker() == 'None'
    from matplotlib.colors import to_rgb
    assert to_rgb(training.get_color()) == to_rgb(validation.get_color()) == (0.0, 0.0, 1.0)


@needs_matplotlib
def test_history_object_from_fit_is_accepted(tmp_path):
    history = History()
    history.history = _logs('accuracy')
    figure = plot_history(history, to_file=str(tmp_path / 'h.png'))
    assert len(figure.axes) == 2


@needs_matplotlib
def test_history_without_validation_draws_training_only(tmp_path):
    figure = plot_history(_logs('acc', validation=False), to_file=str(tmp_path / 'h.png'))
    assert [len(axes.get_lines()) for axes in figure.axes] == [1, 1]
    assert _titles(figure) == ['Training and validation accuracy', 'Training and validation loss']


@needs_matplotlib
def test_history_without_accuracy_draws_the_loss_alone(tmp_path):
    figure = plot_history({'loss': [1.0, 0.5], 'val_loss': [1.1, 0.7]},
                          to_file=str(tmp_path / 'h.png'))
    assert _titles(figure) == ['Training and validation loss']


@needs_matplotlib
def test_history_chosen_metrics(tmp_path):
    logs = dict(_logs('acc'), mae=[0.3, 0.2, 0.1, 0.1, 0.1])
    figure = plot_history(logs, to_file=str(tmp_path / 'h.png'), metrics=['mae'])
    assert _titles(figure) == ['Training and validation mae']
    with pytest.raises(ValueError, match=r"no values for \['auc'\].*'loss'"):
        plot_history(logs, to_file=str(tmp_path / 'h.png'), metrics=['auc'])


@needs_matplotlib
def test_history_without_file_shows_the_figure(monkeypatch):
    import matplotlib.pyplot as plt
    shown = []
    monkeypatch.setattr(plt, 'show', lambda: shown.append(plt.gcf()))
    figure = plot_history(_logs('acc'))
    assert shown == [figure]
    plt.close(figure)


def test_history_rejects_other_objects():
    with pytest.raises(TypeError, match='plot_history: expected a History'):
        plot_history([0.1, 0.2])


def test_history_without_matplotlib_says_how_to_install(monkeypatch, tmp_path):
    real_import = builtins.__import__

    def import_without_matplotlib(name, *args, **kwargs):
        if name == 'matplotlib' or name.startswith('matplotlib.'):
            raise ImportError(f"No module named '{name}'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, '__import__', import_without_matplotlib)
    with pytest.raises(ImportError, match=re.escape('pip install deepzero[plot]')):
        plot_history(_logs(), to_file=str(tmp_path / 'h.png'))
    assert not (tmp_path / 'h.png').exists()


# --- plot_model / model_to_dot ------------------------------------------------------------
def _branching_model():
    """input -> (left, right) -> sum -> out, plus a skip from the input to a concat."""
    inputs = Input((8,), name='features')
    left = layers.Dense(4, activation='relu', name='left')(inputs)
    right = layers.Dense(4, name='right')(inputs)
    merged = layers.Add(name='sum')([left, right])
    joined = layers.Concatenate(name='join')([merged, inputs])
    outputs = layers.Dense(1, activation='sigmoid', name='out')(joined)
    return Model(inputs, outputs, name='branchy')


def _edges_by_name(text, model_layers):
    names = {str(id(layer)): layer.name for layer in model_layers}
    return {(names[a], names[b]) for a, b in re.findall(r'^(\d+) -> (\d+);$', text, re.M)}


def _boxes_by_name(text):
    return re.findall(r'<b>([^<]+)</b> \(\w+\)', text)


def test_dot_of_branching_model_follows_the_graph():
    model = _branching_model()
    text = model_to_dot(model)
    assert text.startswith('digraph "branchy" {') and text.rstrip().endswith('}')
    assert sorted(_boxes_by_name(text)) == sorted(
        ['features', 'left', 'right', 'sum', 'join', 'out'])
    assert _edges_by_name(text, model.layers) == {
        ('features', 'left'), ('features', 'right'), ('left', 'sum'), ('right', 'sum'),
        ('sum', 'join'), ('features', 'join'), ('join', 'out')}


def test_dot_of_shared_layer_has_one_box_and_the_edges_of_every_call():
    left, right = Input((3,), name='left_in'), Input((3,), name='right_in')
    shared = layers.Dense(2, name='shared')
    outputs = layers.Concatenate(name='join')([shared(left), shared(right)])
    model = Model([left, right], outputs)
    text = model_to_dot(model)
    assert _boxes_by_name(text).count('shared') == 1
    assert _edges_by_name(text, model.layers) == {
        ('left_in', 'shared'), ('right_in', 'shared'), ('shared', 'join')}


def test_dot_options_shapes_activations_names_rankdir():
    model = _branching_model()
    text = model_to_dot(model, show_shapes=True, show_layer_activations=True, rankdir='LR',
                        dpi=150)
    assert 'rankdir=LR' in text and 'dpi=150' in text
    assert 'Input shape: <b>[(None, 4), (None, 8)]</b>' in text  # the concat's two inputs
    assert 'Output shape: <b>(None, 12)</b>' in text
    assert 'Activation: <b>sigmoid</b>' in text and 'Activation: <b>relu</b>' in text
    plain = model_to_dot(model)
    assert 'shape:' not in plain and 'Activation' not in plain
    unnamed = model_to_dot(model, show_layer_names=False)
    assert 'left' not in unnamed and '<b>Dense</b>' in unnamed
    with pytest.raises(ValueError, match="rankdir must be"):
        model_to_dot(model, rankdir='sideways')


def test_dot_of_sequential_chains_its_layers():
    model = Sequential([layers.Conv2D(4, 3, activation='relu', input_shape=(10, 10, 3),
                                      name='conv'),
                        layers.MaxPooling2D(2, name='pool'), layers.Flatten(name='flat'),
                        layers.Dense(1, name='head')])
    text = model_to_dot(model, show_shapes=True)
    assert _boxes_by_name(text) == ['conv', 'pool', 'flat', 'head']
    assert _edges_by_name(text, model.layers) == {('conv', 'pool'), ('pool', 'flat'),
                                                  ('flat', 'head')}
    assert 'Output shape: <b>(None, 8, 8, 4)</b>' in text


def test_nested_model_is_one_box_or_an_expanded_cluster():
    inner = _branching_model()
    model = Sequential([Input((8,)), inner, layers.Dense(2, name='after')])
    collapsed = model_to_dot(model)
    assert _boxes_by_name(collapsed) == ['branchy', 'after']
    expanded = model_to_dot(model, expand_nested=True)
    assert f'subgraph cluster_{id(inner)}' in expanded
    assert set(_boxes_by_name(expanded)) == {'features', 'left', 'right', 'sum', 'join', 'out',
                                             'after'}
    # the edge out of the cluster starts at the inner model's output layer
    edges = _edges_by_name(expanded, inner.layers + model.layers)
    assert ('out', 'after') in edges and ('features', 'left') in edges


def test_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="has not been built"):
        model_to_dot(Sequential([layers.Dense(2)]))


@pytest.mark.skipif(shutil.which('dot') is None, reason='Graphviz `dot` is not installed')
def test_plot_model_writes_png(tmp_path):
    out = tmp_path / 'model.png'
    plot_model(_branching_model(), to_file=str(out), show_shapes=True)
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert list(tmp_path.iterdir()) == [out]


def test_plot_model_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    with pytest.raises(RuntimeError, match='apt-get install graphviz'):
        plot_model(_branching_model(), to_file=str(tmp_path / 'm.png'))
