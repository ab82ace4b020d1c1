#!/usr/bin/env bash
# Issue 13's GPU check, on a machine with an NVIDIA GPU (CuPy, h5py, Pillow and
# PyTorch installed), from a copy of the repository, in under 8 minutes:
#
#     bash bench/gpu_check.sh            # results: bench/results/gpu_check.json and .md
#     bash bench/gpu_check.sh --smoke    # every part, tiny (any options go to gpu_check.py)
#
# bench/gpu_check.py says what each part does. Exit status: 0 when every part
# passed; 2 when the machine lacks what the check needs.
set -u
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import cupy; assert cupy.cuda.runtime.getDeviceCount() > 0' 2>/dev/null; then
    echo "gpu_check.sh: CuPy with a usable CUDA GPU is needed ('$PYTHON' has none);" \
         "on the CPU run: $PYTHON bench/gpu_check.py --device cpu --smoke" >&2
    exit 2
fi
# the repository's deepzero, whatever is installed; OpenBLAS tuned as bench/harness.py does
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
unset OPENBLAS_CORETYPE OPENBLAS_L2_SIZE
exec timeout 470 "$PYTHON" bench/gpu_check.py "$@"
