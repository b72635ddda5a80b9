#!/bin/bash
# Copies the campaign's must-not-lose state from $TRIT_RUNS (/root/trit-runs) into the
# repository and commits only those paths, every INTERVAL seconds:
# - the FP32 pre-training's newest checkpoint (+ done.json when finished);
# - each finished fine-tuning run's result.json + identity.json (the shards
#   run in state/shard-<i>/, git-ignored but for these), its trit-format export
#   in export/, and the tables and report over all of them in results/, with
#   results/status.md (`trit bench status`: every run done, training or not started).
# usage: sync-state.sh [interval_s | once]   (default 3600; `once`: one pass, e.g. before a session ends)
interval=${1:-3600}
repo=$(cd "$(dirname "$0")/../../.." && pwd)
runs=${TRIT_RUNS:-/root/trit-runs}
page=$repo/docs/results/cifar10-resnet20-long
dst=$page/state
cli=${TRIT_CLI:-"node $repo/packages/cli/dist/cli.js"}
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
  # The shards write into state/shard-<i>/ (git-ignored); a finished run's
  # result.json + identity.json (and the shard's study.json) are added by name.
  files=(); runs_msg=""
  for r in "$dst"/shard-*/runs/*/result.json; do
    [ -f "$r" ] || continue
    git -C "$repo" ls-files --error-unmatch "$r" >/dev/null 2>&1 && continue   # committed before
    local run name
    run=$(dirname "$r"); name=$(basename "$run")
    if ! $cli export "$run" --out "$page/export/$name" >> "$runs/campaign-sync.log" 2>&1; then
      echo "$(date) export of $name failed (see $runs/campaign-sync.log); its result is committed without it"
    fi
    files+=("$r" "$run/identity.json")
    runs_msg="$runs_msg $name"
  done
  [ ${#files[@]} -gt 0 ] || return 1
  for s in "$dst"/shard-*/study.json; do files+=("$s"); done
  # One set of tables and one report over every finished run so far, its
  # charts as PNG, and SQ's trade-off table (the page shows these).
  local rel=docs/results/cifar10-resnet20-long
  if ls "$dst"/shard-*/study.json >/dev/null 2>&1; then
    (cd "$repo" && $cli bench merge $(ls -d $rel/state/shard-*) --out $rel/results &&
      node scripts/report-charts.mjs $rel/results/report.html $rel/results/charts &&
      node scripts/sq-tradeoff.mjs $rel/results/results.json > $rel/results/sq-tradeoff.md.tmp &&
      mv $rel/results/sq-tradeoff.md.tmp $rel/results/sq-tradeoff.md &&
      { printf '# Where the campaign stood at its last sync\n\nFrom `trit bench status` over the shard folders (the ETA assumes the shards go on at the pace of their newest epochs).\n\n' &&
        $cli bench status $(ls -d $rel/state/shard-*); } > $rel/results/status.md.tmp &&
      mv $rel/results/status.md.tmp $rel/results/status.md) >> "$runs/campaign-sync.log" 2>&1 ||
      echo "$(date) re-rendering results/ failed (see $runs/campaign-sync.log)"
  fi
  return 0
}
while true; do
  msg=""
  paths=()
  sync_pretrain && paths+=("$dst/pretrain")
  if sync_runs; then
    paths+=("${files[@]}")
    for d in "$page/export" "$page/results"; do [ -e "$d" ] && paths+=("$d"); done
    msg="${msg:+$msg; }campaign state: finished runs$runs_msg"
  fi
  if [ ${#paths[@]} -gt 0 ]; then
    # -f: the shards' files sit in a git-ignored folder (state/.gitignore)
    cd "$repo" && git add -f "${paths[@]}" && git commit -q -m "$msg" -- "${paths[@]}" && echo "$(date) $msg"
  fi
  [ "$interval" = once ] && break
  sleep "$interval"
done
