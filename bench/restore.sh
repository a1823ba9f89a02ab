#!/usr/bin/env bash
# Benchmark: getting one repository back out of a big forge snapshot, side by side in one run.
#
#   bench/restore.sh [REPOS] [BIG_MB]     (defaults 40 and 200; needs restic, git and GNU time)
#
# A volume of REPOS synthetic mirrors (bench/make-synthetic-repos.sh) plus one mirror holding
# BIG_MB of incompressible data is pushed once with forgesafe. Then, on that one repository:
#   forgesafe restore --repo          one small mirror
#   restic restore --include          the same mirror (stock restic reads forgesafe's repository)
#   forgesafe location pull           the whole snapshot (what one had to do before)
#   forgesafe restore --checkout      the same mirror as a working clone
#   git clone (hardlinked, from the live volume) the working clone one makes when the volume is at hand
# Targets: one repository costs in proportion to it, not to the snapshot (restore --repo well
# under the full pull), and no slower than restic's --include.
# FORGESAFE_BIN=path uses that binary instead of a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
repos=${1:-40}
big_mb=${2:-200}
work=bench/work-restore
command -v restic >/dev/null || { echo "bench: restic is missing: apt-get install restic" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
if [ -z "${FORGESAFE_BIN:-}" ]; then
  cargo build --release --locked -q
  FORGESAFE_BIN=$PWD/target/release/forgesafe
fi
fs=$FORGESAFE_BIN
rm -rf "$work"; mkdir -p "$work/volume/bench.example/org"
export FORGESAFE_PASSWORD=bench-password RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR=$PWD/$work/restic-cache
export FORGESAFE_LOG_FORMAT=human
profile=$(printf '{"Location":{"type":"local","path":"%s"}}' "$PWD/$work/repo")
org=$work/volume/bench.example/org

echo "bench: making $repos synthetic mirrors and one of $big_mb MB" >&2
bench/make-synthetic-repos.sh "$org" "$repos"
git init -q "$work/big-src"
python3 - "$work/big-src" "$big_mb" <<'PY'
import os, sys
root, mb = sys.argv[1], int(sys.argv[2])
for i in range(mb):
    with open(os.path.join(root, f"data{i}.bin"), "wb") as f: f.write(os.urandom(1 << 20))
PY
git -C "$work/big-src" add -A && git -C "$work/big-src" -c user.name=b -c user.email=b@x commit -qm data
git clone -q --mirror "$work/big-src" "$org/big.git"
"$fs" -q location push "$work/volume" -p "$profile" -s forge >/dev/null
snapshot_path=$(restic -r "$work/repo" snapshots --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["paths"][0])')

timed() { # name command...: prints "seconds rss_kib"
  local name=$1; shift
  /usr/bin/time -o "$work/$name.time" -f '%e %M' "$@" >"$work/$name.out" 2>"$work/$name.err" || { cat "$work/$name.err" >&2; exit 1; }
  cat "$work/$name.time"
}

piece=bench.example/org/synthetic1.git
read -r one_s one_rss < <(timed restore-one "$fs" restore -p "$profile" -s forge --repo org/synthetic1 "$work/one.git")
read -r ric_s ric_rss < <(timed restic-include restic -r "$work/repo" restore latest --include "$snapshot_path/$piece" --target "$work/restic-one")
read -r all_s all_rss < <(timed pull-all "$fs" location pull -p "$profile" -s forge "$work/all")
read -r co_s co_rss < <(timed restore-checkout "$fs" restore -p "$profile" -s forge --repo org/synthetic1 --checkout main "$work/one-work")
read -r clone_s clone_rss < <(timed git-clone git clone -q -b main "$org/synthetic1.git" "$work/git-work")

# The results must be right before their times mean anything.
git -C "$work/one.git" fsck --full --no-progress >/dev/null
[ "$(git -C "$work/one.git" for-each-ref | sha1sum)" = "$(git -C "$org/synthetic1.git" for-each-ref | sha1sum)" ] || { echo "bench: restored refs differ" >&2; exit 1; }
[ -z "$(git -C "$work/one-work" status --porcelain)" ] || { echo "bench: the checkout is not clean" >&2; exit 1; }
diff -r -q --exclude=.git "$work/one-work" "$work/git-work" >/dev/null || { echo "bench: checkout differs from git clone's" >&2; exit 1; }

snapshot_mb=$(du -sm "$work/volume" | cut -f1)
piece_kb=$(du -sk "$org/synthetic1.git" | cut -f1)
ratio() { python3 -c "print(f'{$1/$2:.2f}x')" ; }
printf '\nrestore one repository (%s KiB) out of a %s MB snapshot of %s mirrors:\n' "$piece_kb" "$snapshot_mb" "$((repos + 1))"
printf '%-38s %8s %10s\n' step seconds 'peak RSS'
printf '%-38s %8s %7s MiB\n' "forgesafe restore --repo" "$one_s" "$((one_rss / 1024))"
printf '%-38s %8s %7s MiB\n' "restic restore --include" "$ric_s" "$((ric_rss / 1024))"
printf '%-38s %8s %7s MiB\n' "forgesafe location pull (everything)" "$all_s" "$((all_rss / 1024))"
printf '%-38s %8s %7s MiB\n' "forgesafe restore --checkout main" "$co_s" "$((co_rss / 1024))"
printf '%-38s %8s %7s MiB\n' "git clone (local volume, hardlinks)" "$clone_s" "$((clone_rss / 1024))"
printf '\nrestore --repo / restic --include: time %s, RSS %s\n' "$(ratio "$one_s" "$ric_s")" "$(ratio "$one_rss" "$ric_rss")"
printf 'restore --repo / full pull:        time %s, RSS %s\n' "$(ratio "$one_s" "$all_s")" "$(ratio "$one_rss" "$all_rss")"
