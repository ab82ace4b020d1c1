"""Helpers that sit beside the engine: gradient checks, graph pictures and
``set_random_seed`` (core/runtime.py owns the generators it seeds)."""
from ..core.runtime import set_random_seed
from .dot_graph import get_dot_graph, plot_dot_graph
from .gradient_check import check_gradients, check_second_order, numerical_grad
from .plot_history import plot_history
from .plot_model import model_to_dot, plot_model
