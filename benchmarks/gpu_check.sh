#!/usr/bin/env bash
# Latency and training-step tables at paper size on a CUDA machine, in one command:
#
#     bash benchmarks/gpu_check.sh [OUT_DIR]
#
# Runs from the repository root with the project's environment (.venv, or $PYTHON). It times the
# ViT-B/16 teacher, the unpruned ViT-S/16 student, the EET student (fast path, explicit path,
# per-sample gather) and timm's ViT-S/16, all at 224. Batches are 1, 64 and 256, in float32 and
# bfloat16, and CUDA is synchronised around every timed call. It compares the fast and explicit
# paths round by round at the same sizes, and times one training step of the vit and eet students
# at batch 64. Tables go to OUT_DIR (default results/gpu_check) as CSV and Markdown.
set -euo pipefail

cd "$(dirname "$0")/.."
OUT_DIR=${1:-results/gpu_check}
PYTHON=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1

if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check: torch in $PYTHON sees no CUDA device; run this on a machine with a GPU" >&2
    exit 1
fi
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT_DIR/gpu.txt" || true

"$PYTHON" benchmarks/bench_latency.py --device cuda --batch-sizes 1 64 256 \
    --dtypes float32 bfloat16 --warmup 10 --iterations 50 \
    --out "$OUT_DIR/latency.csv" | tee "$OUT_DIR/latency.md"

for dtype in float32 bfloat16; do
    "$PYTHON" benchmarks/bench_fast_path.py --device cuda --dtype "$dtype" \
        --batch-sizes 1 64 256 --rounds 200 100 50 --warmup 10 \
        --out "$OUT_DIR/fast_path_$dtype.csv" | tee "$OUT_DIR/fast_path_$dtype.md"
done

for dtype in float32 bfloat16; do
    "$PYTHON" benchmarks/bench_train_step.py --device cuda --batch-size 64 --autocast "$dtype" \
        --out "$OUT_DIR/train_step_$dtype.csv" | tee "$OUT_DIR/train_step_$dtype.md"
done
echo "gpu_check: tables written to $OUT_DIR"
