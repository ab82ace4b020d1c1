import re
import shutil

import numpy as np
import pytest

from deepzero import Variable
from deepzero.utils import get_dot_graph, plot_dot_graph


def _graph():
    x = Variable(np.ones((2, 3), np.float32), name='x')
    w = Variable(np.ones((3, 4), np.float32), name='w')
    y = (x @ w + 1.0).sum()
    y.name = 'y'
    return x, w, y


def test_dot_text_has_every_node_and_edge():
    x, w, y = _graph()
    text = get_dot_graph(y, verbose=True)
    assert text.startswith('digraph g {') and text.rstrip().endswith('}')
    for op in ('MatMul', 'AddFunction', 'Sum'):
        assert f'label="{op}"' in text
    assert 'label="x: (2, 3) float32"' in text
    assert 'label="w: (3, 4) float32"' in text
    # x and w feed the MatMul box; the Sum box feeds y
    matmul_id = re.search(r'(\d+) \[label="MatMul"', text).group(1)
    assert f'{id(x)} -> {matmul_id}' in text and f'{id(w)} -> {matmul_id}' in text
    sum_id = re.search(r'(\d+) \[label="Sum"', text).group(1)
    assert f'{sum_id} -> {id(y)}' in text


def test_dot_text_without_verbose_hides_shapes():
    _, _, y = _graph()
    assert '(2, 3)' not in get_dot_graph(y)


@pytest.mark.skipif(shutil.which('dot') is None, reason='Graphviz `dot` is not installed')
def test_plot_writes_png(tmp_path):
    _, _, y = _graph()
    out = tmp_path / 'graph.png'
    plot_dot_graph(y, to_file=str(out))
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'


def test_plot_without_graphviz_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, 'which', lambda name: None)
    _, _, y = _graph()
    with pytest.raises(RuntimeError, match='apt-get install graphviz'):
        plot_dot_graph(y, to_file=str(tmp_path / 'g.png'))
