#!/usr/bin/env bash
# benchmarks/gpu_session.sh — everything a session lent a GPU should run, in one call.
#
# On the device machine (repository root; CuPy, NumPy, Numba, SciPy, pytest and
# hypothesis are in its image, see the device tool's KINDS.md; SimpleITK and
# pydicom are not: carry them as wheels in .whl/ for the example CT, as the
# device README says, and install them with pip --target /tmp/site first):
#
#     bash benchmarks/gpu_session.sh tests     # first call  (~1-2 min on an H100/H200)
#     bash benchmarks/gpu_session.sh bench     # second call (~1 min on an H100; step limits 9 min)
#
# Logs go to $OUT (the device tool's), else ./gpu-out.  Both modes record the
# card and software versions.  "tests": ptxas resource reports of both kernels
# and the GPU tests (tests/test_gpu.py -m gpu: kernels vs the float64
# reference, the Numba backend and their own host build; the texture unit vs
# its emulation), the texture unit's weight rule and fetch rate
# (texture_probe.py) and what its weights cost (texture_weights.py --gpu).
# "bench": benchmarks/gpu.py in float32 (Siddon, trilinear texture, trilinear
# software) and float16, and the Siddon launch-bound A/B (siddon_launch.py).
# Each step has its own time limit,
# so that a mode ends within the device tool's 10 minutes per call; a step that
# fails does not stop the others.  Copy the tables into benchmarks/RESULTS.md
# with the card's name.
set -u -o pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
PY=${PYTHON:-python3}

step() {  # step NAME SECONDS COMMAND...: run with a limit, log to $OUT/NAME.txt
    local name=$1 limit=$2
    shift 2
    echo "=== $name ($(date -u +%H:%M:%S), limit ${limit}s): $*" | tee "$OUT/$name.txt"
    timeout "$limit" "$@" 2>&1 | tee -a "$OUT/$name.txt"
    echo "=== $name: exit ${PIPESTATUS[0]}" | tee -a "$OUT/$name.txt"
}

MODE=${1:-}
case "$MODE" in
    tests|bench) ;;
    *) echo "usage: bash benchmarks/gpu_session.sh tests|bench" >&2; exit 2 ;;
esac

step device 30 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv; \
    nvcc --version | tail -1; $PY -c 'import cupy, numba, numpy; print(\"cupy\", cupy.__version__, \"numba\", numba.__version__, \"numpy\", numpy.__version__)'"
if [ "$MODE" = tests ]; then
step ptxas 60 bash -c "for cu in siddon trilinear; do nvcc -arch=sm_90 -fmad=false -cubin -Xptxas -v \
    -Idrr/kernels drr/kernels/\$cu.cu -o /tmp/\$cu.cubin 2>&1 | grep -E 'entry|registers|spill'; done"
step pytest_gpu 200 "$PY" -m pytest -m gpu -q -p no:cacheprovider tests/test_gpu.py
step texture_probe 120 "$PY" benchmarks/texture_probe.py
step texture_weights 150 "$PY" benchmarks/texture_weights.py --gpu
else
step bench_float32 400 "$PY" benchmarks/gpu.py --max-seconds 1.5
step bench_float16 120 "$PY" benchmarks/gpu.py --storage float16 --quick --max-seconds 1
step siddon_launch 90 "$PY" benchmarks/siddon_launch.py --variants 16x8:10,16x8:8,16x8:12,8x16:10 --rounds 2
fi
echo "logs in $OUT"
