#!/usr/bin/env bash
# Benchmark: `forgesafe serve`'s footprint, and the restore drill against what users would run.
#   idle:   RSS of an idle `serve` (endpoints only)                          target <= 32 MiB
#   soak:   RUNS scheduled runs (`@every 2s`) against local fixtures, RSS and open file
#           descriptors sampled after each run                               target: no growth after
#                                                                            the first run beyond 10%
#   drill:  `forgesafe drill` of a collected volume (restore + every check)  target <= 1.0x
#           vs `git fsck --full` in each mirror (on the volume, no restore)
#
#   bench/serve.sh [RUNS] [BARE_REPOSITORY...]   (default 50 runs; no repositories: 8 synthetic ones)
#
# Work files go to bench/work-serve/ (removed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/bench/work-serve
runs=${1:-50}; shift || true
command -v git >/dev/null || { echo "bench: git is missing" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
cargo build --release --locked -q
fs=$PWD/target/release/forgesafe
rm -rf "$work"; mkdir -p "$work/srv" "$work/tmp"
if [ $# -eq 0 ]; then
  bench/make-synthetic-repos.sh "$work/srv" 8
else
  for repo in "$@"; do
    path=$(realpath "$repo")
    name=$(basename "$path" .git); [ "$name" = repo ] && name=$(basename "$(dirname "$path")")
    ln -s "$path" "$work/srv/$name.git"
  done
fi
repos=("$work"/srv/*.git)

export FORGESAFE_LOG_FORMAT=json FORGESAFE_PASSWORD=bench-password TMPDIR=$work/tmp
export FORGESAFE_PROFILE="{\"Location\":{\"type\":\"local\",\"path\":\"$work/repo\"}}"
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
status() { python3 -c 'import json,sys,urllib.request; s=json.load(urllib.request.urlopen(sys.argv[1])); print(s["runs_succeeded"], s["runs_failed"])' "http://127.0.0.1:$1/status"; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }
wait_up() { for _ in $(seq 200); do curl -sf "http://127.0.0.1:$1/healthz" >/dev/null 2>&1 && return; sleep 0.05; done; echo "bench: serve did not come up" >&2; exit 1; }

# 1. Idle.
p=$(port)
env -u FORGESAFE_PROFILE "$fs" serve --listen "127.0.0.1:$p" 2>"$work/idle.err" & pid=$!
wait_up "$p"; sleep 2
for _ in 1 2 3; do curl -sf "http://127.0.0.1:$p/metrics" >/dev/null; curl -sf "http://127.0.0.1:$p/status" >/dev/null; done
idle_kib=$(rss_kib $pid)
kill -TERM $pid; wait $pid

# 2. Soak: RUNS scheduled backups of the fixtures into a local repository.
p=$(port)
env ${SOAK_ENV:-} "$fs" serve --listen "127.0.0.1:$p" --schedule "@every 2s" --path soak --dest "$work/volume" url "${repos[@]}" 2>"$work/soak.err" & pid=$!
trap 'kill $pid 2>/dev/null || true' EXIT
wait_up "$p"
declare -a rss_at fds_at
seen=0
while [ "$seen" -lt "$runs" ]; do
  read -r ok failed < <(status "$p")
  done_runs=$((ok + failed))
  if [ "$done_runs" -gt "$seen" ]; then
    # Between runs (a run ends well within the 2 s period): what the process keeps, not a peak.
    sleep 0.5
    seen=$done_runs; rss_at[$seen]=$(rss_kib $pid); fds_at[$seen]=$(fds $pid)
  fi
  sleep 0.1
done
read -r ok failed < <(status "$p")
kill -TERM $pid; wait $pid || true
trap - EXIT
[ "$failed" -eq 0 ] || { echo "bench: $failed of the soak's runs failed:" >&2; grep -m3 '"ERROR"' "$work/soak.err" >&2; exit 1; }
max_rss=0; for v in "${rss_at[@]}"; do [ "$v" -gt "$max_rss" ] && max_rss=$v; done

# 3. Drill of the soak's newest snapshot vs git fsck --full in each mirror of the volume.
/usr/bin/time -f "%e %M" -o "$work/drill.time" "$fs" drill --path soak --json >"$work/drill.json" 2>"$work/drill.err" \
  || { echo "bench: the drill failed:" >&2; tail -3 "$work/drill.err" >&2; exit 1; }
read -r drill_s drill_k <"$work/drill.time"
mirrors=$(find "$work/volume" -name '*.git' -type d -prune)
/usr/bin/time -f "%e %M" -o "$work/fsck.time" bash -c 'for m in '"$(echo $mirrors)"'; do git -C "$m" fsck --full --no-progress >/dev/null 2>&1 || exit 1; done'
read -r fsck_s fsck_k <"$work/fsck.time"

ratio() { python3 -c "print(f'{$1/$2:.2f}' if $2 > 0 else 'n/a')"; }
pct() { python3 -c "print(f'{($1/$2-1)*100:+.1f}%')"; }
mib() { python3 -c "print(f'{$1/1024:.1f}')"; }
printf '\n%s repositories (%s), 2 cores\n' "${#repos[@]}" "$(du -shL "$work/srv" | cut -f1)"
printf '%-44s %14s %14s %10s %s\n' step forgesafe peer ratio target
printf '%-44s %10s MiB %14s %10s %s\n' "idle serve, RSS" "$(mib "$idle_kib")" - - "<= 32 MiB"
printf '%-44s %10s MiB %14s %10s %s\n' "soak: RSS after run 1 -> run $runs" "$(mib "${rss_at[1]}")->$(mib "${rss_at[$runs]}")" - "$(pct "${rss_at[$runs]}" "${rss_at[1]}")" "<= +10%"
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
early=$(median "${rss_at[@]:1:10}"); late=$(median "${rss_at[@]: -10}")
printf '%-44s %10s MiB %14s %10s %s\n' "soak: median RSS, runs 2-11 -> last 10" "$(mib "$early")->$(mib "$late")" - "$(pct "$late" "$early")" "<= +10%"
printf '%-44s %10s MiB %14s %10s\n' "soak: peak RSS over $runs runs" "$(mib "$max_rss")" - -
printf '%-44s %14s %14s %10s %s\n' "soak: open fds after run 1 -> run $runs" "${fds_at[1]}->${fds_at[$runs]}" - "$(pct "${fds_at[$runs]}" "${fds_at[1]}")" "<= +10%"
printf '%-44s %12ss %12ss %10s %s\n' "drill (restore+verify) vs git fsck --full" "$drill_s" "$fsck_s" "$(ratio "$drill_s" "$fsck_s")" "<= 1.0x"
printf '%-44s %10s MiB %10s MiB\n' "  peak RSS" "$(mib "$drill_k")" "$(mib "$fsck_k")"
python3 - "$work/drill.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); c = r["check"]
print("  drill: %d mirrors, %d objects hashed, restore %.2fs, checks %.2fs, ok=%s" % (c["mirrors_checked"], c["objects_checked"], r["restore_seconds"], r["check_seconds"], r["ok"]))
PY
series=""; for i in 1 2 5 10 20 30 40 "$runs"; do [ -n "${rss_at[$i]:-}" ] && series="$series run $i: $(mib "${rss_at[$i]}")"; done
echo "  soak RSS (MiB) by run:$series"
