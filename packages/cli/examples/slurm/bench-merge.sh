#!/bin/bash
# Merges the N shard folders of a sweep into OUT/merged (submit.sh submits it
# with --dependency=afterok on the array job).
#SBATCH --job-name=trit-merge
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=01:00:00
set -euo pipefail
if [[ $# -ne 3 ]]; then
  echo "usage: sbatch bench-merge.sh CLI N OUT (as submit.sh does)" >&2
  exit 2
fi
cli=$1 shards=$2 out=$3
# Every shard by name, not shard-*: a missing one is an error, not a smaller table.
dirs=()
for ((i = 1; i <= shards; i++)); do dirs+=("$out/shard-$i"); done
node "$cli" bench merge "${dirs[@]}" --out "$out/merged"
