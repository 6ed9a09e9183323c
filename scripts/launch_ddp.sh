#!/usr/bin/env bash
# Starts a distributed data-parallel fit (strategy 'ddp', Gloo on the CPU).
#
# One machine: trainer starts the processes itself, so this is only
#   build/app/trainer fit --config CONFIG --trainer.devices=N --trainer.strategy=ddp
#
# Several machines: run this script on every node with the same NNODES, NODE_RANK set to
# 0..NNODES-1, and MASTER_ADDR naming node 0; torchrun (pip package torch) sets RANK,
# WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT for each process, and trainer reads
# them. Under SLURM, `srun trainer fit ...` works without torchrun: trainer reads
# SLURM_PROCID, SLURM_NTASKS and SLURM_LOCALID, and MASTER_ADDR/MASTER_PORT when set
# (else the first host of SLURM_JOB_NODELIST and port 29500).
#
# Usage: NNODES=2 NODE_RANK=0 MASTER_ADDR=node0 NPROC_PER_NODE=2 scripts/launch_ddp.sh CONFIG [OVERRIDES...]
#        scripts/launch_ddp.sh CONFIG [OVERRIDES...]   (one machine, NPROC_PER_NODE processes)
set -euo pipefail

CONFIG=${1:?usage: launch_ddp.sh CONFIG [OVERRIDES...]}
shift
HERE=$(cd "$(dirname "$0")" && pwd)
TRAINER=${TRAINER:-$HERE/../build/app/trainer}
NNODES=${NNODES:-1}
NPROC_PER_NODE=${NPROC_PER_NODE:-2}
# Several ranks share each machine's cores; OpenMP's busy-waiting would slow them down.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

if [[ $NNODES -eq 1 ]]; then
  exec "$TRAINER" fit --config "$CONFIG" --trainer.devices="$NPROC_PER_NODE" --trainer.strategy=ddp "$@"
fi

: "${NODE_RANK:?set NODE_RANK (0..NNODES-1) on each node}"
: "${MASTER_ADDR:?set MASTER_ADDR to the address of node 0}"
exec torchrun --nnodes="$NNODES" --nproc_per_node="$NPROC_PER_NODE" --node_rank="$NODE_RANK" \
  --rdzv_backend=c10d --rdzv_endpoint="$MASTER_ADDR:${MASTER_PORT:-29500}" --rdzv_id="${RDZV_ID:-trainer}" \
  --no-python "$TRAINER" fit --config "$CONFIG" --trainer.devices="$NPROC_PER_NODE" --trainer.num_nodes="$NNODES" \
  --trainer.strategy=ddp "$@"
