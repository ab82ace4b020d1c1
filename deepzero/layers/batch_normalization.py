"""``BatchNormalization``: normalize each channel by batch statistics while
training and by moving averages at inference."""
from .. import functions as F, initializers, regularizers
from .arg_utils import check_no_constraint
from .layer import InputSpec, Layer


class BatchNormalization(Layer):
    """Keras defaults: axis -1, momentum 0.99, epsilon 1e-3, center and scale.

    Training: y = gamma * (x - mean_batch) / sqrt(var_batch + epsilon) + beta,
    and moving = moving * momentum + batch_stat * (1 - momentum).
    Inference: the moving statistics replace the batch ones.
    A frozen layer (trainable=False) always runs in inference mode (Keras 3),
    which is what fine-tuning a pretrained BN network needs.

    Weights (Keras order): gamma (if scale), beta (if center), moving_mean,
    moving_variance, each of shape (channels,).
    """

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer='zeros', gamma_initializer='ones',
                 moving_mean_initializer='zeros', moving_variance_initializer='ones',
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, renorm=False, renorm_clipping=None,
                 renorm_momentum=0.99, synchronized=False, **kwargs):
        super().__init__(**kwargs)
        if renorm or synchronized:
            raise ValueError(f"BatchNormalization '{self.name}': renorm and synchronized "
                             "are not supported")
        check_no_constraint(self, beta_constraint=beta_constraint,
                            gamma_constraint=gamma_constraint)
        if isinstance(axis, (list, tuple)) and len(axis) == 1:  # tf.keras configs: [3]
            axis = axis[0]
        if not isinstance(axis, int):
            raise ValueError(f"BatchNormalization '{self.name}': axis must be an int, "
                             f"got {axis!r}")
        self.axis, self.momentum, self.epsilon = axis, momentum, epsilon
        self.center, self.scale = center, scale
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)

    def build(self, input_shape):
        ndim = len(input_shape)
        if not -ndim <= self.axis < ndim:
            raise ValueError(f"BatchNormalization '{self.name}': axis {self.axis} is out of "
                             f"range for input shape {input_shape}")
        channels = input_shape[self.axis]
        if channels is None:
            raise ValueError(f"BatchNormalization '{self.name}': the normalized axis must "
                             f"have a known size; input shape {input_shape}")
        axis = self.axis % ndim
        self.input_spec = InputSpec(ndim=ndim, axes={self.axis: channels})
        shape = (channels,)
        self.gamma = (self.add_weight('gamma', shape, self.gamma_initializer,
                                      regularizer=self.gamma_regularizer)
                      if self.scale else None)
        self.beta = (self.add_weight('beta', shape, self.beta_initializer,
                                     regularizer=self.beta_regularizer)
                     if self.center else None)
        self.moving_mean = self.add_weight('moving_mean', shape, self.moving_mean_initializer,
                                           trainable=False)
        self.moving_variance = self.add_weight('moving_variance', shape,
                                               self.moving_variance_initializer,
                                               trainable=False)
        self._norm_axis = axis

    def call(self, inputs, training=None):
        training = bool(training) and self.trainable
        return F.batch_norm(inputs, self.gamma, self.beta, self.moving_mean,
                            self.moving_variance, momentum=self.momentum,
                            epsilon=self.epsilon, axis=self._norm_axis, training=training)

    def get_config(self):
        return {**super().get_config(), 'axis': self.axis, 'momentum': self.momentum,
                'epsilon': self.epsilon, 'center': self.center, 'scale': self.scale,
                'beta_initializer': initializers.serialize(self.beta_initializer),
                'gamma_initializer': initializers.serialize(self.gamma_initializer),
                'moving_mean_initializer': initializers.serialize(self.moving_mean_initializer),
                'moving_variance_initializer':
                    initializers.serialize(self.moving_variance_initializer),
                'beta_regularizer': regularizers.serialize(self.beta_regularizer),
                'gamma_regularizer': regularizers.serialize(self.gamma_regularizer),
                'beta_constraint': None, 'gamma_constraint': None, 'synchronized': False,
                'renorm': False, 'renorm_clipping': None, 'renorm_momentum': 0.99}
