#!/usr/bin/env bash
# Distributed evaluation on a slurm cluster (--launcher slurm); the numbers equal tools/test.py's.
#
# Usage: tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments...]
# Environment: GPUS (8, tasks in total), GPUS_PER_NODE (8, tasks per node), CPUS_PER_TASK (5),
#   GRES (gpu:$GPUS_PER_NODE; GRES= for CPU-only nodes), SRUN_ARGS (extra srun options), MASTER_PORT (29500,
#   set a free one when several jobs share a node), PYTHON (python).
set -euo pipefail

if [ "$#" -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG CHECKPOINT [tools/test.py arguments...]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
CHECKPOINT=$4
shift 4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
GRES=${GRES-gpu:$GPUS_PER_NODE}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}"

# SRUN_ARGS is split on spaces on purpose (several srun options).
# shellcheck disable=SC2086
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    ${GRES:+--gres="$GRES"} \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$REPO_ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" --launcher slurm "$@"
