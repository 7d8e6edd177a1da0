#!/usr/bin/env bash
# The main job on the embedded sample data: generate it, train, evaluate, run inference, export to ONNX
# (verified against PyTorch with onnxruntime), evaluate the exported model and write the HTML report of the run.
# Usage: bash tools/run_sample_job.sh [WORK_DIR]   (default work_dirs/sample_job)
# A rerun resumes (or, when training finished, skips) training and redoes the other steps.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_DIR=${1:-work_dirs/sample_job}
CONFIG=configs/stgcn_nvidia_sample.py
CKPT="$WORK_DIR/pc_model_latest.pth"
SECONDS=0

echo "== 1/6 sample data (data/nvidia_sample)  (${SECONDS} s)"
python tools/make_sample_data.py --out data/nvidia_sample
echo "== 2/6 training $CONFIG -> $WORK_DIR  (${SECONDS} s)"
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --auto-amp   # bfloat16 where the CPU runs it natively
echo "== 3/6 evaluation of $CKPT  (${SECONDS} s)"
python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test" --dump "$WORK_DIR/test/predictions.npz"
echo "== 4/6 inference on data/nvidia_sample/val_data.npy  (${SECONDS} s)"
python tools/inference.py "$CONFIG" "$CKPT" data/nvidia_sample/val_data.npy \
    --out "$WORK_DIR/inference.txt" --scores-out "$WORK_DIR/inference_scores.txt"
echo "== 5/6 ONNX export (parity-checked) and its evaluation  (${SECONDS} s)"
python tools/deployment/export_onnx.py "$CONFIG" "$CKPT" --out "$WORK_DIR/pc_model.onnx" --force
python tools/test.py "$CONFIG" "$WORK_DIR/pc_model.onnx" --work-dir "$WORK_DIR/test_onnx"
echo "== 6/6 HTML report of the run (reuses the evaluation of step 3)  (${SECONDS} s)"
python tools/report.py "$WORK_DIR" --out "$WORK_DIR/report.html"
echo "Done in ${SECONDS} s: checkpoints, evaluation reports, predictions and pc_model.onnx are in $WORK_DIR"
echo "Report: $WORK_DIR/report.html"
