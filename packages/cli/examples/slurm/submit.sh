#!/bin/bash
# Submits a sharded trit sweep to Slurm: bench-array.sh as a job array of N
# tasks (task i runs `trit bench --shard i/N`), then bench-merge.sh, which
# starts once every task has succeeded. Run it from the folder that is to hold
# the results, on a file system every node sees. Its arguments go to the
# array's sbatch, after (so over) the script's own: `./submit.sh --array=2`
# runs shard 2 again (it resumes; finished runs are reused) and merges again.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

# The sweep: edit here, or set these variables (and again for a re-submission).
# N is written only here; no task derives it from the array's size, which is 1
# when one task is re-submitted.
study=${TRIT_STUDY:-$here/../../studies/cifar10-resnet20.json}
shards=${TRIT_SHARDS:-4}
out=${TRIT_OUT:-runs}

[[ -f $study ]] || { echo "submit.sh: no study file $study" >&2; exit 2; }
[[ $shards =~ ^[1-9][0-9]*$ ]] || { echo "submit.sh: N must be a positive integer, got '$shards'" >&2; exit 2; }
study=$(realpath "$study")
cli=$(cd "$here/../.." && pwd)/dist/cli.js
# Slurm opens a job's --output file before the job starts: a missing folder
# fails every task at launch, before anything is logged.
mkdir -p "$out/logs"
out=$(cd "$out" && pwd)
# A folder holds one sweep: another study or N would not merge with its shards.
sweep="$study in $shards shards"
if [[ -f $out/sweep.txt && $(<"$out/sweep.txt") != "$sweep" ]]; then
  echo "submit.sh: $out holds the sweep of $(<"$out/sweep.txt"), not of $sweep" >&2
  exit 2
fi
echo "$sweep" >"$out/sweep.txt"

array=$(sbatch --parsable --array="1-$shards" --output="$out/logs/shard-%a-job%A.out" "$@" \
  "$here/bench-array.sh" "$cli" "$study" "$shards" "$out")
array=${array%%;*}
merge=$(sbatch --parsable --dependency="afterok:$array" --kill-on-invalid-dep=yes \
  --output="$out/logs/merge-job%j.out" "$here/bench-merge.sh" "$cli" "$shards" "$out")
merge=${merge%%;*}
echo "array job $array: task i runs shard i/$shards of $study into $out/shard-i"
echo "merge job $merge: after every task of $array succeeded, into $out/merged"
