#!/bin/bash
# Copies the campaign's must-not-lose state from $TRIT_RUNS (/root/trit-runs) into the
# repository and commits only those paths, every INTERVAL seconds:
# - the FP32 pre-training's newest checkpoint (+ done.json when finished);
# - each finished fine-tuning run's result.json + identity.json (the shards
#   run in state/shard-<i>/, git-ignored but for these), its trit-format export
#   in export/, and the tables and report over all of them in results/, with
#   results/status.md (`trit bench status`: every run done, training or not started);
#   the tables that this page and the README quote from results/summary.md
#   (scripts/results-tables.mjs) are updated and committed with them.
# At a session's end (`stop`), also a snapshot of each run in progress (its
# newest checkpoint, identity.json, model.json) into state/in-progress/, so a
# fresh machine loses at most the epoch in progress; `restore` puts those
# snapshots back into the shard folders before the shards are restarted.
# usage: sync-state.sh [interval_s | once | stop | restore]
#   interval_s (default 3600): a pass every interval_s seconds;
#   once: one pass; stop: one pass plus the in-progress snapshots (the shards
#   may keep running); restore: only put the snapshots back (no commit).
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
    # The pages quoting results/summary.md get its new table (scripts/results-tables.mjs);
    # a page is committed with the runs only when that changed it.
    local p before
    for p in "$page/README.md" "$repo/README.md"; do
      before=$(sha1sum < "$p")
      (cd "$repo" && node scripts/results-tables.mjs "$p") >> "$runs/campaign-sync.log" 2>&1 ||
        echo "$(date) updating the tables of $p failed (see $runs/campaign-sync.log)"
      [ "$(sha1sum < "$p")" = "$before" ] || files+=("$p")
    done
  fi
  return 0
}
# A run in progress: a shard's run folder with a checkpoint and no result.
in_progress_runs() {
  for c in "$dst"/shard-*/runs/*/checkpoint/checkpoint.json; do
    [ -f "$c" ] || continue
    local run; run=$(dirname "$(dirname "$c")")
    [ -f "$run/result.json" ] || echo "$run"
  done
}
checkpoint_epoch() {  # epoch of a checkpoint folder, or 0 if it has none
  python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['state']['history'][-1]['epoch'])" "$1/checkpoint.json" 2>/dev/null || echo 0
}
# Rebuilds state/in-progress/ from the runs in progress. A checkpoint is
# replaced by renaming a complete new folder into place once an epoch, so a
# copy that equals the live folder after it was taken is one whole checkpoint.
snapshot_in_progress() {
  local snap=$dst/in-progress tmp; tmp=$(mktemp -d "$dst/.in-progress-XXXX")
  local run rel ok tries
  for run in $(in_progress_runs); do
    rel=${run#"$dst"/}
    mkdir -p "$tmp/$rel"
    ok=""
    for tries in 1 2 3 4 5; do
      rm -rf "$tmp/$rel/checkpoint"
      cp -r "$run/checkpoint" "$tmp/$rel/checkpoint" 2>/dev/null &&
        diff -rq "$tmp/$rel/checkpoint" "$run/checkpoint" >/dev/null 2>&1 && { ok=1; break; }
      sleep 2
    done
    if [ -z "$ok" ]; then echo "$(date) no stable copy of $run/checkpoint; not snapshotted"; rm -rf "${tmp:?}/$rel"; continue; fi
    cp "$run/identity.json" "$tmp/$rel/" && { [ ! -f "$run/model.json" ] || cp "$run/model.json" "$tmp/$rel/"; }
    snap_msg="$snap_msg $(basename "$run") (epoch $(checkpoint_epoch "$tmp/$rel/checkpoint"))"
  done
  rm -rf "$snap.old"; [ -d "$snap" ] && mv "$snap" "$snap.old"
  mv "$tmp" "$snap"; rm -rf "$snap.old"
}
# Copies each snapshot back into its shard folder unless that run has a
# result or a checkpoint at least as new (a machine that kept its files).
restore_in_progress() {
  local s run
  for s in "$dst"/in-progress/shard-*/runs/*/; do
    [ -d "$s" ] || continue
    s=${s%/}; run=$dst/${s#"$dst"/in-progress/}
    if [ -f "$run/result.json" ]; then echo "skip $run: finished"; continue; fi
    local have want; have=$(checkpoint_epoch "$run/checkpoint"); want=$(checkpoint_epoch "$s/checkpoint")
    if [ "$have" -ge "$want" ]; then echo "skip $run: its checkpoint is after epoch $have, the snapshot's after $want"; continue; fi
    mkdir -p "$run"; rm -rf "$run/checkpoint.restore"
    cp -r "$s/checkpoint" "$run/checkpoint.restore" && cp "$s/identity.json" "$run/" &&
      { [ ! -f "$s/model.json" ] || cp "$s/model.json" "$run/"; } &&
      rm -rf "$run/checkpoint" && mv "$run/checkpoint.restore" "$run/checkpoint" &&
      echo "restored $run: checkpoint after epoch $want"
  done
}
if [ "$interval" = restore ]; then restore_in_progress; exit 0; fi
while true; do
  msg=""
  paths=()
  sync_pretrain && paths+=("$dst/pretrain")
  if sync_runs; then
    paths+=("${files[@]}")
    for d in "$page/export" "$page/results"; do [ -e "$d" ] && paths+=("$d"); done
    msg="${msg:+$msg; }campaign state: finished runs$runs_msg"
  fi
  if [ "$interval" = stop ]; then
    snap_msg=""
    snapshot_in_progress
    # -A: also drops the snapshots of runs that have finished since
    git -C "$repo" add -A -f "$dst/in-progress"
    if ! git -C "$repo" diff --cached --quiet -- "$dst/in-progress"; then
      paths+=("$dst/in-progress")
      msg="${msg:+$msg; }campaign state: runs in progress${snap_msg:- (none)}"
    fi
  fi
  if [ ${#paths[@]} -gt 0 ]; then
    # -f: the shards' files sit in a git-ignored folder (state/.gitignore)
    cd "$repo" && git add -f "${paths[@]}" && git commit -q -m "$msg" -- "${paths[@]}" && echo "$(date) $msg"
  fi
  [ "$interval" = once ] || [ "$interval" = stop ] && break
  sleep "$interval"
done
