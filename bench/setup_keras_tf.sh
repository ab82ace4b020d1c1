#!/usr/bin/env bash
# Makes the benchmark's Keras-on-TensorFlow environment, .venv-bench-tf/ at the
# repository root (git-ignored): the CPU wheel of TensorFlow, Keras 3 and what the
# bench workers import. Run from anywhere:
#
#     bash bench/setup_keras_tf.sh            # PYTHON=python3.11 bash ... picks the interpreter
#
# bench/run.py (framework keras_tf) and bench/epoch_time_5_2_5.py run their Keras/TF
# side in this environment's python. Versions are pinned to those the issue measured
# (Keras 3.15.1 on TensorFlow 2.21), and NumPy to the main environment's, so that the
# two sides of a run share one NumPy/OpenBLAS. `tensorflow-cpu` has no CUDA
# dependencies; the check at the end fails if any nvidia-* package came in anyway.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv-bench-tf"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --upgrade --quiet pip
# pillow and scipy: Keras's ImageDataGenerator loads images with PIL and applies its
# augmentations with scipy.ndimage (the epoch benchmark).
"$VENV/bin/python" -m pip install --quiet --only-binary=:all: \
    tensorflow-cpu==2.21.0 keras==3.15.1 numpy==2.4.6 \
    scipy==1.17.1 pillow==13.0.0 threadpoolctl==3.8.0

if "$VENV/bin/python" -m pip list --format=freeze | grep -i '^nvidia-'; then
    echo "setup_keras_tf.sh: CUDA packages were installed into $VENV (listed above);" \
         "the benchmark wants the CPU wheel only" >&2
    exit 1
fi
KERAS_BACKEND=tensorflow "$VENV/bin/python" -c \
    'import keras, tensorflow as tf, numpy; print("keras", keras.__version__, "tensorflow", tf.__version__, "numpy", numpy.__version__)'
