#!/bin/bash
# One shard of a trit sweep per task of a job array (submit.sh submits it):
# task i runs `trit bench --study STUDY --shard i/N` into OUT/shard-i.
#SBATCH --job-name=trit-shard
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=24:00:00
#SBATCH --requeue
set -euo pipefail
if [[ $# -ne 4 || -z ${SLURM_ARRAY_TASK_ID:-} ]]; then
  echo "usage: sbatch --array=1-N bench-array.sh CLI STUDY N OUT (as submit.sh does)" >&2
  exit 2
fi
cli=$1 study=$2 shards=$3 out=$4
node "$cli" bench --study "$study" --shard "$SLURM_ARRAY_TASK_ID/$shards" \
  --out "$out/shard-$SLURM_ARRAY_TASK_ID" --no-progress
