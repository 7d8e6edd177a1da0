#!/usr/bin/env bash
# The main job on the embedded sample data: generate it, train, evaluate, run inference, export to ONNX
# (verified against PyTorch with onnxruntime) and evaluate the exported model.
# Usage: bash tools/run_sample_job.sh [WORK_DIR]   (default work_dirs/sample_job)
# A rerun resumes (or, when training finished, skips) training and redoes the other steps.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_DIR=${1:-work_dirs/sample_job}
CONFIG=configs/stgcn_nvidia_sample.py
CKPT="$WORK_DIR/pc_model_latest.pth"
SECONDS=0

echo "== 1/5 sample data (data/nvidia_sample)  (${SECONDS} s)"
python tools/make_sample_data.py --out data/nvidia_sample
echo "== 2/5 training $CONFIG -> $WORK_DIR  (${SECONDS} s)"
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --auto-amp   # bfloat16 where the CPU runs it natively
echo "== 3/5 evaluation of $CKPT  (${SECONDS} s)"
python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test"
echo "== 4/5 inference on data/nvidia_sample/val_data.npy  (${SECONDS} s)"
python tools/inference.py "$CONFIG" "$CKPT" data/nvidia_sample/val_data.npy \
    --out "$WORK_DIR/inference.txt" --scores-out "$WORK_DIR/inference_scores.txt"
echo "== 5/5 ONNX export (parity-checked) and its evaluation  (${SECONDS} s)"
python tools/deployment/export_onnx.py "$CONFIG" "$CKPT" --out "$WORK_DIR/pc_model.onnx" --force
python tools/test.py "$CONFIG" "$WORK_DIR/pc_model.onnx" --work-dir "$WORK_DIR/test_onnx"
echo "Done in ${SECONDS} s: checkpoints, evaluation reports, predictions and pc_model.onnx are in $WORK_DIR"
