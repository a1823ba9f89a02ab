#!/usr/bin/env bash
# Benchmark: retention and locking, forgesafe against restic, side by side in one run.
#
#   bench/retention.sh [SNAPSHOTS] [SIZE_MB]     (defaults 100 and 50; needs restic and GNU time)
#
# 1. A repository with SNAPSHOTS snapshots of a changing tree (made by forgesafe, one hour apart),
#    copied twice; `forgesafe forget --keep-last 10 --prune` on one copy against
#    `restic forget --keep-last 10 --prune` on the other (target: <= 1.0x restic's time).
# 2. The time an unchanged re-push spends taking, re-checking and releasing its repository lock,
#    read from forgesafe's own debug timings (target: <= 5% of the re-push).
# FORGESAFE_BIN=path uses that binary instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
snapshots=${1:-100}
size_mb=${2:-50}
work=bench/work-retention
command -v restic >/dev/null || { echo "bench: restic is missing: apt-get install restic" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
if [ -z "${FORGESAFE_BIN:-}" ]; then
  cargo build --release --locked -q
  FORGESAFE_BIN=$PWD/target/release/forgesafe
fi
fs=$FORGESAFE_BIN
rm -rf "$work"; mkdir -p "$work/src"
export FORGESAFE_PASSWORD=bench-password RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR=$PWD/$work/restic-cache
export FORGESAFE_LOG_FORMAT=human
profile() { printf '{"Location":{"type":"local","path":"%s"}}' "$PWD/$work/$1"; }

# The tree: SIZE_MB of incompressible files; each snapshot changes one and adds one (~1%).
python3 - "$work/src" "$size_mb" <<'PY'
import os, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
for i in range(size_mb * 4):
    with open(os.path.join(root, f"blob{i}"), "wb") as f: f.write(os.urandom(256 << 10))
PY
echo "bench: making $snapshots snapshots of a $size_mb MB tree" >&2
for i in $(seq 1 "$snapshots"); do
  head -c $((256 << 10)) /dev/urandom > "$work/src/blob$((i % (size_mb * 4)))"
  head -c $((128 << 10)) /dev/urandom > "$work/src/new$i"
  when=$(date -u -d "@$((1767225600 + i * 3600))" '+%Y-%m-%d %H:%M:%S')  # hour i of 2026
  "$fs" -q location push "$work/src" -p "$(profile repo)" -s bench --time "$when" >/dev/null
done
cp -a "$work/repo" "$work/repo-fs"; cp -a "$work/repo" "$work/repo-restic"

timed() { # name command...: prints "seconds rss"
  local name=$1; shift
  /usr/bin/time -o "$work/$name.time" -f '%e %M' "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
  cat "$work/$name.time"
}
read -r fs_s fs_rss < <(timed forget-fs "$fs" forget -p "$(profile repo-fs)" -s bench --keep-last 10 --prune)
read -r r_s r_rss < <(timed forget-restic restic -r "$work/repo-restic" forget --keep-last 10 --prune)
fs_left=$("$fs" snapshots -p "$(profile repo-fs)" | grep -c '"id"')
r_left=$(restic -r "$work/repo-restic" snapshots --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')

# An unchanged re-push, with the lock's own timings from forgesafe's debug log.
"$fs" -q location push "$work/src" -p "$(profile repo-fs)" -s bench >/dev/null
start=$(date +%s.%N)
FORGESAFE_LOG=forgesafe=debug "$fs" location push "$work/src" -p "$(profile repo-fs)" -s bench >/dev/null 2>"$work/repush.log"
end=$(date +%s.%N)
lock_ms=$(grep -E 'repository lock (written|released|checked again)' "$work/repush.log" | sed -E 's/.*elapsed_ms=([0-9]+).*/\1/' | paste -sd+ | bc)
repush_ms=$(echo "($end - $start) * 1000 / 1" | bc)

ratio() { python3 -c "print(f'{$1 / $2:.2f}x')"; }
pct() { python3 -c "print(f'{100 * $1 / $2:.1f}%')"; }
met() { python3 -c "print('met' if $1 <= $2 else 'MISSED')"; }
printf '%-46s %12s %12s %8s %8s %s\n' step forgesafe restic ratio target result
printf '%-46s %11ss %11ss %8s %8s %s\n' "forget --keep-last 10 --prune ($snapshots snaps)" "$fs_s" "$r_s" "$(ratio "$fs_s" "$r_s")" "<=1.0x" "$(met "$fs_s" "$r_s")"
printf '%-46s %10sMiB %10sMiB\n' "  peak RSS" "$((fs_rss / 1024))" "$((r_rss / 1024))"
printf '%-46s %12s %12s\n' "  snapshots left" "$fs_left" "$r_left"
printf '%-46s %10sms %12s %8s %8s %s\n' "lock take+check+release in an unchanged re-push" "$lock_ms" "-" "$(pct "$lock_ms" "$repush_ms")" "<=5%" "$(met "$lock_ms" "$repush_ms * 0.05")"
printf '%-46s %10sms\n' "  the whole re-push" "$repush_ms"
