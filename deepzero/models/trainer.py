"""Keras-style training loop: compile / fit / evaluate / predict.

`Trainer` is the base class of `Model`; it holds everything about training and
nothing about layers.
"""


class Trainer:
    """Mixin giving a model compile(), fit(), evaluate() and predict()."""
