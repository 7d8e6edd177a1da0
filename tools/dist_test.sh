#!/usr/bin/env bash
# Distributed evaluation with torchrun: every process evaluates a shard, metrics are computed on all samples
# (gathered in dataset order, sampler padding dropped), so the numbers equal tools/test.py's.
#
# Usage: tools/dist_test.sh CONFIG CHECKPOINT GPUS [tools/test.py arguments...]
#   e.g. tools/dist_test.sh configs/stgcn_nvidia.py work_dirs/stgcn_nvidia/pc_model_latest.pth 4
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), PORT (29500), PYTHON (python).
set -euo pipefail

if [ "$#" -lt 3 ]; then
    echo "usage: $0 CONFIG CHECKPOINT GPUS [tools/test.py arguments...]" >&2
    exit 2
fi
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
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
    "$REPO_ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher pytorch "$@"
