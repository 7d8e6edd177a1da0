#!/usr/bin/env bash
# The main job on the embedded sample data: generate it, train, evaluate, run inference.
# Usage: bash tools/run_sample_job.sh [WORK_DIR]   (default work_dirs/sample_job)
set -euo pipefail
cd "$(dirname "$0")/.."
WORK_DIR=${1:-work_dirs/sample_job}
CONFIG=configs/stgcn_nvidia_sample.py

python tools/make_sample_data.py --out data/nvidia_sample
python tools/train.py "$CONFIG" --work-dir "$WORK_DIR" --no-auto-resume
python tools/test.py "$CONFIG" "$WORK_DIR/pc_model_latest.pth" --work-dir "$WORK_DIR/test"
python tools/inference.py "$CONFIG" "$WORK_DIR/pc_model_latest.pth" data/nvidia_sample/val_data.npy \
    --out "$WORK_DIR/inference.txt" --scores-out "$WORK_DIR/inference_scores.txt"
echo "Done: checkpoints, evaluation report and predictions are in $WORK_DIR"
