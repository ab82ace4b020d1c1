"""``keras.preprocessing.image`` -> :mod:`deepzero.preprocessing.image`
(ImageDataGenerator included, as in Keras 2 and tf.keras)."""
from ...preprocessing.image import *  # noqa: F401,F403
from ...preprocessing.image import __all__  # noqa: F401
