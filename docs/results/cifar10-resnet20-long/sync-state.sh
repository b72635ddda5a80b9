#!/bin/bash
# Copies the campaign's must-not-lose state from $TRIT_RUNS (/root/trit-runs) into the
# repository and commits only those paths, every INTERVAL seconds:
# - the FP32 pre-training's newest checkpoint (+ done.json when finished);
# - each finished fine-tuning run's result.json + identity.json (per shard
#   folder), and its trit-format export.
# usage: sync-state.sh [interval_s | once]   (default 3600; `once`: one pass, e.g. before a session ends)
interval=${1:-3600}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${TRIT_RUNS:-/root/trit-runs}
page=$repo/docs/results/cifar10-resnet20-long
dst=$page/state
cli="node $repo/packages/cli/dist/cli.js"
sync_pretrain() {
  local src=$runs/cifar10-long/pretrain/seed0
  [ -d "$src/checkpoint" ] || return 1
  [ -f "$dst/pretrain/seed0/done.json" ] && return 1   # finished and published: never touched again
  mkdir -p "$dst/pretrain"
  local tmp; tmp=$(mktemp -d "$dst/pretrain/.sync-XXXX")
  cp -r "$src/checkpoint" "$src/identity.json" "$src/model.json" "$tmp/" 2>/dev/null
  [ -f "$src/done.json" ] && cp "$src/done.json" "$tmp/"
  if ! python3 -c "import json; json.load(open('$tmp/checkpoint/checkpoint.json'))" 2>/dev/null; then rm -rf "$tmp"; return 1; fi
  if [ -d "$dst/pretrain/seed0" ] && diff -rq "$tmp" "$dst/pretrain/seed0" >/dev/null; then rm -rf "$tmp"; return 1; fi
  rm -rf "$dst/pretrain/seed0.old"; [ -d "$dst/pretrain/seed0" ] && mv "$dst/pretrain/seed0" "$dst/pretrain/seed0.old"
  mv "$tmp" "$dst/pretrain/seed0"; rm -rf "$dst/pretrain/seed0.old"
  ep=$(python3 -c "import json; c=json.load(open('$dst/pretrain/seed0/checkpoint/checkpoint.json')); h=c['state']['history'][-1]; print('%d (test %.2f%%)'%(h['epoch'],100*h['testAccuracy']))")
  msg="campaign state: FP32 pre-training checkpoint after epoch $ep"
  [ -f "$dst/pretrain/seed0/done.json" ] && msg="campaign state: FP32 pre-training finished, epoch $ep"
  return 0
}
sync_runs() {
  local n=0
  for r in $runs/cifar10-long-ft/shard-*/runs/*/result.json; do
    [ -f "$r" ] || continue
    local run; run=$(dirname "$r"); local name; name=$(basename "$run"); local shard; shard=$(basename "$(dirname "$(dirname "$run")")")
    local to="$dst/$shard/runs/$name"
    [ -f "$to/result.json" ] && continue
    mkdir -p "$to.tmp" && cp "$run/result.json" "$run/identity.json" "$to.tmp/" && mv "$to.tmp" "$to" || continue
    $cli export "$run" --out "$page/export/$name" >> $runs/campaign-sync.log 2>&1 || echo "export of $name failed"
    [ -f "$run/../../study.json" ] && cp "$run/../../study.json" "$dst/$shard/study.json"
    n=$((n + 1)); runs_msg="$runs_msg $name"
  done
  [ $n -gt 0 ]
}
while true; do
  msg=""; runs_msg=""
  paths=()
  sync_pretrain && paths+=("$dst/pretrain")
  sync_runs && { paths+=("$dst"/shard-* "$page/export"); msg="${msg:+$msg; }campaign state: finished runs$runs_msg"; }
  if [ ${#paths[@]} -gt 0 ]; then
    cd "$repo" && git add "${paths[@]}" && git commit -q -m "$msg" -- "${paths[@]}" && echo "$(date) $msg"
  fi
  [ "$interval" = once ] && break
  sleep "$interval"
done
