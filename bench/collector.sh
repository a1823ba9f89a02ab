#!/usr/bin/env bash
# Benchmark: forgesafe's collector against what users run today, side by side in one run, over
# real git smart HTTP (lighttpd + git http-backend on loopback):
#   first run:      forgesafe collect            vs  sequential `git clone --mirror` of each repository
#   no-change run:  forgesafe collect again      vs  `git fetch --prune` in each mirror
#
#   bench/collector.sh [BARE_REPOSITORY...]     (none given: 8 synthetic repositories are generated)
#
# Needs lighttpd, git and GNU time. Work files go to bench/work-collector/ (removed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
work=$PWD/bench/work-collector
for tool in lighttpd git; do command -v $tool >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
cargo build --release --locked -q
fs=$PWD/target/release/forgesafe
rm -rf "$work"; mkdir -p "$work/srv" "$work/git-vol"

if [ $# -eq 0 ]; then
  bench/make-synthetic-repos.sh "$work/srv" 8
else
  for repo in "$@"; do
    path=$(realpath "$repo")
    name=$(basename "$path" .git); [ "$name" = repo ] && name=$(basename "$(dirname "$path")")
    ln -s "$path" "$work/srv/$name.git"
  done
fi

source bench/lib.sh
start_git_server
trap 'kill $server 2>/dev/null' EXIT

urls=(); for repo in "$work"/srv/*.git; do urls+=("http://127.0.0.1:$port/$(basename "$repo")"); done
printf '%s\n' "${urls[@]}" >"$work/urls.txt"
export FORGESAFE_LOG_FORMAT=human WORK=$work


measure fs_first  "$fs" collect url "${urls[@]}" --dest "$work/fs-vol" --parallel 4
measure git_first bash -c 'while read -r u; do git clone -q --mirror "$u" "$WORK/git-vol/$(basename "$u")"; done <"$WORK/urls.txt"'
measure fs_again  "$fs" collect url "${urls[@]}" --dest "$work/fs-vol" --parallel 4
measure git_again bash -c 'for d in "$WORK"/git-vol/*.git; do git -C "$d" fetch -q --prune; done'
# What `lfs: true` adds to a no-change run: the first time every pack is scanned for LFS
# pointers; after that each pack's result is cached.
measure fs_lfs_scan   "$fs" collect url "${urls[@]}" --dest "$work/fs-vol" --parallel 4 --lfs
measure fs_lfs_cached "$fs" collect url "${urls[@]}" --dest "$work/fs-vol" --parallel 4 --lfs

# Same refs as git's mirrors, or the numbers mean nothing.
for d in "$work"/git-vol/*.git; do
  ours=$(find "$work/fs-vol" -maxdepth 3 -name "$(basename "$d")" -type d | head -1)
  diff <(git -C "$d" for-each-ref --format='%(objectname) %(refname)' | sort) \
       <(git -C "$ours" for-each-ref --format='%(objectname) %(refname)' | sort) >/dev/null \
    || { echo "bench: refs of $(basename "$d") differ between git and forgesafe" >&2; exit 1; }
done

printf '\n%s repositories (%s), 2 cores; seconds (peak RSS MiB)\n' "${#urls[@]}" "$(du -shL "$work/srv" | cut -f1)"
printf '%-10s %18s %18s %8s\n' run forgesafe git ratio
printf '%-10s %12ss (%4s) %12ss (%4s) %8s\n' first "${secs[fs_first]}" "${rss[fs_first]}" "${secs[git_first]}" "${rss[git_first]}" "$(ratio "${secs[fs_first]}" "${secs[git_first]}")"
printf '%-10s %12ss (%4s) %12ss (%4s) %8s\n' no-change "${secs[fs_again]}" "${rss[fs_again]}" "${secs[git_again]}" "${rss[git_again]}" "$(ratio "${secs[fs_again]}" "${secs[git_again]}")"
printf 'no-change / first: forgesafe %s\n' "$(ratio "${secs[fs_again]}" "${secs[fs_first]}")"
printf 'no-change with --lfs: %ss (%s MiB) while every pack is scanned once, then %ss (%s MiB)\n' \
  "${secs[fs_lfs_scan]}" "${rss[fs_lfs_scan]}" "${secs[fs_lfs_cached]}" "${rss[fs_lfs_cached]}"
