#!/usr/bin/env bash
# The main job on the embedded sample data: generate it, train, evaluate, run inference, export to ONNX
# (verified against PyTorch with onnxruntime) and evaluate the exported model.
# Usage: bash tools/run_sample_job.sh [WORK_DIR]   (default work_dirs/sample_job)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_DIR=${1:-work_dirs/sample_job}
CONFIG=configs/stgcn_nvidia_sample.py
CKPT="$WORK_DIR/pc_model_latest.pth"

python tools/make_sample_data.py --out data/nvidia_sample
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --no-auto-resume
python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK_DIR/test"
python tools/inference.py "$CONFIG" "$CKPT" data/nvidia_sample/val_data.npy \
    --out "$WORK_DIR/inference.txt" --scores-out "$WORK_DIR/inference_scores.txt"
python tools/deployment/export_onnx.py "$CONFIG" "$CKPT" --out "$WORK_DIR/pc_model.onnx" --force
python tools/test.py "$CONFIG" "$WORK_DIR/pc_model.onnx" --work-dir "$WORK_DIR/test_onnx"
echo "Done: checkpoints, evaluation reports, predictions and pc_model.onnx are in $WORK_DIR"
