"""Helpers that sit beside the engine: gradient checks and graph pictures."""
from .gradient_check import check_gradients, check_second_order, numerical_grad
