#!/usr/bin/env bash
# Benchmark: forgesafe's data mover against restic, side by side in one run, on the same kind of
# local repository and the same ~500 MB tree of mixed files.
#
#   bench/data-mover.sh [SIZE_MB]        (default 500; needs restic and GNU time)
#
# Steps, each timed with peak RSS: first push, unchanged re-push, re-push after changing ~1% of
# the data, full pull (restic: restore). Work files go to bench/work/ (removed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
size_mb=${1:-500}
work=bench/work
command -v restic >/dev/null || { echo "bench: restic is missing: apt-get install restic" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }

cargo build --release --locked -q
fs=$PWD/target/release/forgesafe
rm -rf "$work"; mkdir -p "$work"
export FORGESAFE_PASSWORD=bench-password RESTIC_PASSWORD=bench-password RESTIC_CACHE_DIR=$PWD/$work/restic-cache
export FORGESAFE_LOG_FORMAT=human

# A tree shaped like a forge volume: many small source-like text files, some large incompressible
# blobs (packs, release assets), and duplicates (the same blob in several repositories).
python3 - "$work/src" "$size_mb" <<'PY'
import os, random, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(42)
words = "fn let mut impl struct self match return use pub crate async await Result Option Vec String".split()
text_budget, blob_budget, dup_budget = size_mb * 3 // 10 << 20, size_mb * 5 // 10 << 20, size_mb * 2 // 10 << 20
n = 0
while text_budget > 0:
    d = os.path.join(root, f"repo{n % 40}", "src", f"mod{n % 97}")
    os.makedirs(d, exist_ok=True)
    lines = rnd.randint(20, 800)
    body = "".join(" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) + f" {rnd.randint(0, 10**6)};\n" for _ in range(lines))
    with open(os.path.join(d, f"file{n}.rs"), "w") as f: f.write(body)
    text_budget -= len(body); n += 1
blobs = []
while blob_budget > 0:
    size = rnd.randint(100 << 10, 20 << 20)
    d = os.path.join(root, f"repo{len(blobs) % 40}", "objects")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, f"pack-{len(blobs)}.pack")
    with open(p, "wb") as f: f.write(os.urandom(size))
    blobs.append(p); blob_budget -= size
while dup_budget > 0:
    src = rnd.choice(blobs)
    d = os.path.join(root, f"mirror{rnd.randint(0, 9)}")
    os.makedirs(d, exist_ok=True)
    dst = os.path.join(d, f"dup-{dup_budget}-{os.path.basename(src)}")
    with open(src, "rb") as a, open(dst, "wb") as b: b.write(a.read())
    dup_budget -= os.path.getsize(dst)
print(f"bench: generated {n} text files, {len(blobs)} blobs and duplicates under {root}", file=sys.stderr)
PY
du -sh "$work/src" >&2
files=$(find "$work/src" -type f | wc -l)

change_one_percent() {  # append to ~1% of the files and add one new blob of ~0.5% of the size
  python3 - "$work/src" "$size_mb" <<'PY'
import os, random, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
paths = [os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs]
for p in rnd.sample(paths, max(1, len(paths) // 100)):
    with open(p, "ab") as f: f.write(os.urandom(512))
with open(os.path.join(root, "new-blob.bin"), "wb") as f: f.write(os.urandom(size_mb * 5 << 10))
PY
}

declare -A secs rss
measure() {  # name, command...
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$work/time.txt" "$@" >"$work/$name.out" 2>"$work/$name.err" || {
    echo "bench: $name failed:" >&2; cat "$work/$name.err" >&2; exit 1; }
  read -r s k <"$work/time.txt"; secs[$name]=$s; rss[$name]=$((k / 1024))
}

profile="{\"Location\":{\"type\":\"local\",\"path\":\"$PWD/$work/fs-repo\"}}"
restic -q -r "$work/restic-repo" init >/dev/null

measure fs_first     "$fs" location push "$work/src" -p "$profile" -s bench
measure restic_first restic -q -r "$work/restic-repo" backup "$work/src"
measure fs_same      "$fs" location push "$work/src" -p "$profile" -s bench
measure restic_same  restic -q -r "$work/restic-repo" backup "$work/src"
change_one_percent
measure fs_changed     "$fs" location push "$work/src" -p "$profile" -s bench
measure restic_changed restic -q -r "$work/restic-repo" backup "$work/src"
measure fs_pull     "$fs" location pull "$work/fs-restored" -p "$profile" -s bench
measure restic_pull restic -q -r "$work/restic-repo" restore latest --target "$work/restic-restored"

diff -r "$work/src" "$work/fs-restored" >/dev/null || { echo "bench: forgesafe's restore differs from the source" >&2; exit 1; }
ratio() { python3 -c "print(f'{$1/$2:.2f}' if $2 > 0 else 'n/a')"; }
printf '\n%s MB, %s files, 2 cores; seconds (peak RSS MiB)\n' "$size_mb" "$files"
printf '%-18s %16s %16s %8s\n' step forgesafe restic ratio
for step in first same changed pull; do
  printf '%-18s %10ss (%4s) %10ss (%4s) %8s\n' "$step" "${secs[fs_$step]}" "${rss[fs_$step]}" "${secs[restic_$step]}" "${rss[restic_$step]}" \
    "$(ratio "${secs[fs_$step]}" "${secs[restic_$step]}")"
done
printf 'unchanged re-push / first push: forgesafe %s, restic %s\n' "$(ratio "${secs[fs_same]}" "${secs[fs_first]}")" "$(ratio "${secs[restic_same]}" "${secs[restic_first]}")"
printf 'repository size: forgesafe %s, restic %s\n' "$(du -sh "$work/fs-repo" | cut -f1)" "$(du -sh "$work/restic-repo" | cut -f1)"
