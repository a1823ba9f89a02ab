#!/usr/bin/env bash
# Benchmark: the collector on a large account far from the forge, side by side in one run with
# what users run today. The forge is the tests' fake GitHub API (examples/fake_forge.rs: real
# socket, GitHub's wire format, ETags and 304s) with every answer delayed LATENCY ms, as
# github.com is from a pod in a cluster; git goes over real smart HTTP (lighttpd + git
# http-backend on loopback). Each repository has issues, a pull request with a review, a
# release, a label and a milestone.
#
#   first run:      forgesafe collect  vs  sequential `git clone --mirror` of every repository plus
#                                          the same metadata requests made one at a time (curl)
#   no-change run:  forgesafe collect again, and again with --api-parallel 1 (the old behaviour)
#   steady state:   a third run: the share of API answers that are 304
#   peak RSS:       first runs of 100 and of REPOS repositories (flat in the number of repositories)
#
#   bench/collector-scale.sh [REPOS] [LATENCY_MS]     (defaults: 1000 repositories, 50 ms)
#
# Needs lighttpd, git, curl and GNU time. Work files go to bench/work-scale/ (removed at the start).
set -euo pipefail
cd "$(dirname "$0")/.."
repos=${1:-1000}; latency=${2:-50}
work=$PWD/bench/work-scale
for tool in lighttpd git curl; do command -v $tool >/dev/null || { echo "bench: $tool is missing: apt-get install $tool" >&2; exit 1; }; done
[ -x /usr/bin/time ] || { echo "bench: GNU time is missing: apt-get install time" >&2; exit 1; }
cargo build --release --locked -q
cargo build --release --locked -q --features bench-fixtures --example fake_forge
fs=$PWD/target/release/forgesafe; fake=$PWD/target/release/examples/fake_forge
rm -rf "$work"; mkdir -p "$work/srv" "$work/git-vol"

# One small repository (a few commits, a branch, a tag), copied REPOS times.
seed=$work/seed; git init -q -b main "$seed"
for i in 1 2 3; do echo "$i" >"$seed/f$i.txt"; git -C "$seed" add .; git -C "$seed" -c user.name=b -c user.email=b@e commit -q -m "c$i"; done
git -C "$seed" branch feature; git -C "$seed" tag v1
git clone -q --bare "$seed" "$work/seed.git"
for i in $(seq 0 $(( (repos > 100 ? repos : 100) - 1))); do cp -r "$work/seed.git" "$work/srv/$(printf 'repo%04d' "$i").git"; done

source bench/lib.sh
start_git_server
pids=($server)
trap 'kill "${pids[@]}" 2>/dev/null' EXIT

export TOKEN=ghp_benchScaleToken0123456789 WORK=$work FORGESAFE_LOG_FORMAT=human
# A fake forge listing N repositories; prints its API URL into $work/api-N.
start_forge() {
  local n=$1
  (sleep infinity | "$fake" --repos "$n" --latency-ms "$latency" --git-base "http://127.0.0.1:$port" --token "$TOKEN" >"$work/api-$n") &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/api-$n" ] && break; sleep 0.1; done
}
start_forge "$repos"; start_forge 100
conf() { # conf N DEST
  printf 'source:\n  github:\n    - token: TOKEN\n      user: octo\n      url: %s\n      wiki: true\n      issues: true\ndestination:\n  local:\n    - path: %s\n' \
    "$(cat "$work/api-$1")" "$2" >"$work/conf-$1.yml"
}
conf "$repos" "$work/fs-vol"; conf 100 "$work/fs-vol-100"

api_counts() { # "requests 304s" from a run's summary line
  grep -o '[0-9]* API requests ([0-9]* answered 304)' "$work/$1.err" | tr -d '()' | awk '{print $1, $4}'
}

measure fs_first  "$fs" collect --config "$work/conf-$repos.yml" --parallel 4
measure fs_again  "$fs" collect --config "$work/conf-$repos.yml" --parallel 4
measure fs_steady "$fs" collect --config "$work/conf-$repos.yml" --parallel 4
measure fs_serial "$fs" collect --config "$work/conf-$repos.yml" --parallel 4 --api-parallel 1
measure fs_first_100 "$fs" collect --config "$work/conf-100.yml" --parallel 4

# What users would otherwise run: one clone after another, then the same metadata requests
# (the lists, and each issue's and pull request's details) one at a time.
api=$(cat "$work/api-$repos")/api/v3
for i in $(seq 0 $((repos - 1))); do
  r=$(printf 'repo%04d' "$i"); b="$api/repos/octo/$r"
  printf 'url = "%s"\n' "$b/labels?per_page=100" "$b/milestones?state=all&per_page=100" "$b/releases?per_page=100" \
    "$b/issues?state=all&sort=updated&direction=asc&per_page=100" "$b/issues/1/comments?per_page=100" \
    "$b/pulls/2" "$b/issues/2/comments?per_page=100" "$b/pulls/2/reviews?per_page=100" "$b/pulls/2/comments?per_page=100"
  printf 'output = "/dev/null"\n%.0s' 1 2 3 4 5 6 7 8 9
done >"$work/curl.cfg"
measure git_first bash -c 'for d in "$WORK"/srv/*.git; do git clone -q --mirror "http://127.0.0.1:'"$port"'/$(basename "$d")" "$WORK/git-vol/$(basename "$d")"; done &&
  curl -s -H "Authorization: Bearer $TOKEN" -K "$WORK/curl.cfg"'

read -r req_first s304_first < <(api_counts fs_first)
read -r req_steady s304_steady < <(api_counts fs_steady)
met() { python3 -c "print('met' if $1 else 'MISSED')"; }
share304=$(python3 -c "print(f'{100*$s304_steady/$req_steady:.1f}')")
printf '\n%s repositories, every API answer delayed %s ms, 2 cores; seconds (peak RSS MiB)\n' "$repos" "$latency"
printf '%-34s %16s %22s %7s %14s %s\n' step forgesafe peer ratio target ""
printf '%-34s %10ss (%3s) %16ss (%3s) %7s %14s %s\n' "first run" "${secs[fs_first]}" "${rss[fs_first]}" "${secs[git_first]}" "${rss[git_first]}" \
  "$(ratio "${secs[fs_first]}" "${secs[git_first]}")" "<= 0.5x" "$(met "${secs[fs_first]} <= 0.5 * ${secs[git_first]}")"
printf '%-34s %10ss (%3s) %22s %7s %14s %s\n' "no-change run" "${secs[fs_again]}" "${rss[fs_again]}" "" "" "<= 30 s" "$(met "${secs[fs_again]} <= 30")"
printf '%-34s %10ss (%3s) %22s %7s\n' "no-change run, --api-parallel 1" "${secs[fs_serial]}" "${rss[fs_serial]}" "" "$(ratio "${secs[fs_again]}" "${secs[fs_serial]}")"
printf '%-34s %15s%% %22s %7s %14s %s\n' "steady state: 304 answers" "$share304" "($s304_steady of $req_steady)" "" ">= 90%" "$(met "$share304 >= 90")"
printf '%-34s %10s MiB %22s %7s %14s %s\n' "peak RSS, 100 repositories" "${rss[fs_first_100]}" "" "" "<= 256 MiB" "$(met "${rss[fs_first_100]} <= 256")"
printf '%-34s %10s MiB %22s %7s %14s %s\n' "peak RSS, $repos repositories" "${rss[fs_first]}" "" "$(ratio "${rss[fs_first]}" "${rss[fs_first_100]}")" "<= 256 MiB" "$(met "${rss[fs_first]} <= 256")"
printf 'first run: %s API requests (%s answered 304)\n' "$req_first" "$s304_first"
