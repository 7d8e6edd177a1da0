#!/usr/bin/env bash
# Distributed training with torchrun (python -m torch.distributed.run) and DDP: one process per GPU, or per
# CPU worker with the gloo backend when there is no GPU. Works from any directory.
#
# Usage: tools/dist_train.sh CONFIG GPUS [tools/train.py arguments...]
#   e.g. tools/dist_train.sh configs/stgcn_nvidia.py 4 --work-dir work_dirs/nvidia_4gpu
# Multi-node (run on every node, same MASTER_ADDR/PORT, NODE_RANK 0..NNODES-1):
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 tools/dist_train.sh CONFIG 8
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
shift 2
case "$GPUS" in
    ''|*[!0-9]*|0) echo "$0: GPUS (processes per node) must be a positive integer, got '$GPUS'" >&2; exit 2 ;;
esac
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
PORT=${PORT:-29500}
PYTHON=${PYTHON:-python}

# This checkout first on the import path, wherever the script is called from.
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node-rank="$NODE_RANK" \
    --master-addr="$MASTER_ADDR" \
    --master-port="$PORT" \
    --nproc-per-node="$GPUS" \
    "$REPO_ROOT/tools/train.py" "$CONFIG" --launcher pytorch "$@"
