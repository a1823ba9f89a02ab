#!/usr/bin/env bash
# Benchmark: forgesafe's data mover against restic, side by side in one run, on the same data and
# the same kind of repository: a local directory, or a real S3 server (moto) on loopback.
#
#   bench/data-mover.sh [SIZE_MB] [--shape mixed|forge] [--store local|s3|both]
#                                               (defaults: 500, mixed, both)
#
# Shapes (generated once, deterministic names and sizes; each store run starts from a fresh copy):
#   mixed  ~SIZE_MB of many small source-like text files, large incompressible blobs (packs,
#          release assets) and duplicates of them (the same blob in several repositories).
#   forge  a forge volume as `forgesafe collect` writes it: 300 small bare mirrors
#          github.com/ACCOUNT/REPO.git (one seed repository with a few commits, a branch and a
#          tag, copied), a REPO.wiki.git for every third, and 20,000 metadata JSON files of
#          1-10 KiB, REPO.metadata/{issues,pulls}/N.json (issue- and pull-shaped, seeded random
#          text). SIZE_MB is ignored for this shape (always ~145 MB in ~30,400 files).
#
# Steps, for each store and each tool, each timed with GNU time (wall seconds, peak RSS):
#   first push (forgesafe's push creates its repository, timed; restic's is made beforehand with
#   `restic init`, untimed: ~3 s of key-derivation tuning), unchanged re-push, re-push after
#   changing ~1% (mixed: 512 bytes appended to 1% of the files plus one new blob of 0.5% of
#   SIZE_MB; forge: 1% of the JSON files edited - a comment appended, updated_at moved - and 20
#   new issues), full pull (restic: restore latest). Both restores are compared with the source
#   (diff -r); a difference stops the benchmark.
# Then `forgesafe serve`, where the repository's key is derived once per process rather than per
# push: serve runs scheduled backups (`@every 1s`) of the changed tree (its destination volume,
# plus one tiny mirror it collects) into a fresh repository on the same store; the push times of
# its first and next two (unchanged) runs come from its /status (`push_seconds`). Its unchanged
# re-push is compared with restic's unchanged re-push and with its own first push.
# On S3 every request each step makes is counted from moto's request log (one line per request,
# written before the answer is sent, moto idle between steps, so the count is exact), split into
# GET / PUT / HEAD / other. restic uses s3:http://127.0.0.1:PORT/bench/restic, forgesafe the
# prefix forgesafe/ of the same bucket; both with a fresh cache under the store's work folder.
#
# Prints ONE table: store, step, forgesafe, restic, ratio (forgesafe / restic), target, met; the
# targets are issue 13's. Needs restic, GNU time, python3, git, curl; moto
# for --store s3 (FORGESAFE_TEST_MOTO, else moto_server on PATH, else .test-tools/venv, else
# bench/work-venv, installed there with pip when none is found, ~35 s).
# Work files go to bench/work/ (removed at the start): base/ (the generated tree), src/ (the
# copy pushed, reset for each store), local/ and s3/ (repositories, restores, caches, each
# step's .out/.err, moto.log).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() { echo "usage: bench/data-mover.sh [SIZE_MB] [--shape mixed|forge] [--store local|s3|both]" >&2; exit 2; }
size_mb=500 shape=mixed store=both
while [ $# -gt 0 ]; do
  case $1 in
    --shape) [ $# -ge 2 ] || usage; shape=$2; shift 2 ;;
    --shape=*) shape=${1#*=}; shift ;;
    --store) [ $# -ge 2 ] || usage; store=$2; shift 2 ;;
    --store=*) store=${1#*=}; shift ;;
    -h|--help) usage ;;
    *) [[ $1 =~ ^[0-9]+$ ]] || usage; size_mb=$1; shift ;;
  esac
done
case $shape in mixed|forge) ;; *) usage ;; esac
case $store in local) stores=(local) ;; s3) stores=(s3) ;; both) stores=(local s3) ;; *) usage ;; esac
work=$PWD/bench/work

missing() { echo "bench: $1 is missing: $2" >&2; exit 1; }
command -v restic >/dev/null || missing restic "apt-get install restic"
[ -x /usr/bin/time ] || missing "GNU time" "apt-get install time"
command -v python3 >/dev/null || missing python3 "apt-get install python3"
command -v git >/dev/null || missing git "apt-get install git"
command -v curl >/dev/null || missing curl "apt-get install curl"
moto=
if [[ " ${stores[*]} " == *" s3 "* ]]; then
  if [ -n "${FORGESAFE_TEST_MOTO:-}" ]; then moto=$FORGESAFE_TEST_MOTO
  elif command -v moto_server >/dev/null; then moto=$(command -v moto_server)
  elif [ -x .test-tools/venv/bin/moto_server ]; then moto=$PWD/.test-tools/venv/bin/moto_server
  elif [ -x bench/work-venv/bin/moto_server ]; then moto=$PWD/bench/work-venv/bin/moto_server
  else
    echo "bench: moto_server not found; installing moto[server] into bench/work-venv (~35 s)" >&2
    { python3 -m venv bench/work-venv && bench/work-venv/bin/pip install -q 'moto[server]'; } >bench/work-venv.log 2>&1 ||
      missing moto_server "installing it into bench/work-venv failed (see bench/work-venv.log); pip install 'moto[server]'"
    moto=$PWD/bench/work-venv/bin/moto_server
  fi
  "$moto" --help >/dev/null 2>&1 || missing moto_server "$moto does not run; pip install 'moto[server]'"
fi

cargo build --release --locked -q
fs=$PWD/target/release/forgesafe
rm -rf "$work"; mkdir -p "$work"
source bench/lib.sh
export FORGESAFE_PASSWORD=bench-password RESTIC_PASSWORD=bench-password FORGESAFE_LOG_FORMAT=human
# moto takes any key; these are the tests' (tests/common/mod.rs).
export AWS_ACCESS_KEY_ID=AKIAFORGESAFETESTKEY7 AWS_SECRET_ACCESS_KEY=fs-secret-Zq8wX3vB9mN2kL5jH7gF4dS1aP0oI6uY AWS_DEFAULT_REGION=us-east-1

gen_mixed() {  # ROOT SIZE_MB
  python3 - "$1" "$2" <<'PY'
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
}

change_mixed() {  # ROOT SIZE_MB: append to ~1% of the files and add one new blob of ~0.5% of the size
  python3 - "$1" "$2" <<'PY'
import os, random, sys
root, size_mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)
for p in rnd.sample(paths, max(1, len(paths) // 100)):
    with open(p, "ab") as f: f.write(os.urandom(512))
with open(os.path.join(root, "new-blob.bin"), "wb") as f: f.write(os.urandom(size_mb * 5 << 10))
PY
}

# The forge shape's JSON: GitHub-shaped issues and pull requests with their comments, every
# string drawn from a seeded generator (text that compresses like real text).
forge_json_lib='
import json, random
WORDS = ("the a to of and in is that it for on with as this be are not build test fix error when "
  "should after before release branch merge commit review please thanks looks good change update "
  "config backup restore mirror token repository issue pull request failing passes CI docs crash "
  "panic timeout retry upstream version bump dependency memory leak slow fast linux windows macos "
  "api endpoint webhook label milestone assign close reopen duplicate wontfix").split()
USERS = [f"user{i:03d}" for i in range(120)]
def text(rnd, n):
    out, size = [], 0
    while size < n:
        s = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(5, 18))).capitalize() + rnd.choice(".?!") + rnd.choice(["  ", "\n\n", " "])
        out.append(s); size += len(s)
    return "".join(out)[:n]
def stamp(rnd, year=2023):
    return f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:{rnd.randint(0, 59):02d}:{rnd.randint(0, 59):02d}Z"
def user(rnd):
    u = rnd.choice(USERS)
    return {"login": u, "id": 1000 + USERS.index(u), "type": "User", "site_admin": False, "avatar_url": f"https://avatars.githubusercontent.com/u/{1000 + USERS.index(u)}?v=4"}
def comment(rnd, base, n):
    return {"id": rnd.randint(10**8, 10**9), "user": user(rnd), "created_at": stamp(rnd), "updated_at": stamp(rnd),
            "author_association": rnd.choice(["OWNER", "MEMBER", "CONTRIBUTOR", "NONE"]), "body": text(rnd, n),
            "html_url": f"https://github.com/{base}#issuecomment-{rnd.randint(10**8, 10**9)}"}
def item(rnd, account, repo, number, kind, size):
    base = f"{account}/{repo}/{kind}/{number}"
    d = {"url": f"https://api.github.com/repos/{base}", "html_url": f"https://github.com/{base}", "id": rnd.randint(10**8, 10**9),
         "number": number, "title": text(rnd, rnd.randint(20, 70)).strip(), "user": user(rnd),
         "labels": [{"name": rnd.choice(["bug", "enhancement", "question", "docs", "ci"]), "color": f"{rnd.randint(0, 0xffffff):06x}"} for _ in range(rnd.randint(0, 3))],
         "state": rnd.choice(["open", "closed"]), "locked": False, "assignees": [user(rnd) for _ in range(rnd.randint(0, 2))],
         "milestone": None, "created_at": stamp(rnd), "updated_at": stamp(rnd), "closed_at": None,
         "author_association": "CONTRIBUTOR", "body": "", "comments": []}
    if kind == "pulls":
        d.update({"head": {"ref": f"feature-{number}", "sha": "%040x" % rnd.getrandbits(160)}, "base": {"ref": "main", "sha": "%040x" % rnd.getrandbits(160)},
                  "merged": rnd.random() < 0.5, "draft": False, "additions": rnd.randint(1, 900), "deletions": rnd.randint(0, 400), "reviews": []})
    room = size - len(json.dumps(d, indent=2))
    body = max(40, room * rnd.randint(3, 10) // 10)
    d["body"] = text(rnd, body); room -= body
    while room > 400:
        c = min(room - 300, rnd.randint(100, 1500)); d["comments"].append(comment(rnd, base, c)); room -= c + 450
    return d
def dump(path, d):
    with open(path, "w") as f: json.dump(d, f, indent=2, sort_keys=True); f.write("\n")
'

gen_forge() {  # ROOT
  local root=$1 seed=$work/seed
  git init -q -b main "$seed"
  for i in 1 2 3 4 5; do
    python3 -c "import random; r=random.Random($i); print('\n'.join(' '.join(r.choice('fn let mut impl use pub'.split()) for _ in range(8)) for _ in range(400)))" >"$seed/f$i.rs"
    git -C "$seed" add .; git -C "$seed" -c user.name=b -c user.email=b@e commit -q -m "c$i"
  done
  git -C "$seed" branch feature; git -C "$seed" tag v1
  git clone -q --bare "$seed" "$work/seed.git"; git -C "$work/seed.git" gc -q
  git init -q -b master "$seed-wiki"; echo "# Home" >"$seed-wiki/Home.md"
  git -C "$seed-wiki" add .; git -C "$seed-wiki" -c user.name=b -c user.email=b@e commit -q -m wiki
  git clone -q --bare "$seed-wiki" "$work/seed.wiki.git"; git -C "$work/seed.wiki.git" gc -q
  python3 - "$root" "$work/seed.git" "$work/seed.wiki.git" <<PY
import os, random, shutil, sys
$forge_json_lib
root, seed, wiki = sys.argv[1:4]
rnd = random.Random(42)
mirrors, json_files = 300, 20000
repos = [(f"org{i % 10:02d}", f"project-{i:03d}") for i in range(mirrors)]
per_repo = [0] * mirrors
for _ in range(json_files): per_repo[rnd.randrange(mirrors)] += 1
total = 0
for (account, repo), n in zip(repos, per_repo):
    base = os.path.join(root, "github.com", account)
    shutil.copytree(seed, os.path.join(base, repo + ".git"), symlinks=True)
    if int(repo[-3:]) % 3 == 0: shutil.copytree(wiki, os.path.join(base, repo + ".wiki.git"), symlinks=True)
    for number in range(1, n + 1):
        kind = "issues" if rnd.random() < 0.67 else "pulls"
        d = os.path.join(base, repo + ".metadata", kind); os.makedirs(d, exist_ok=True)
        dump(os.path.join(d, f"{number}.json"), item(rnd, account, repo, number, kind, rnd.randint(1024, 10240)))
        total += 1
print(f"bench: generated {mirrors} mirrors, {mirrors // 3} wikis and {total} metadata files under {root}", file=sys.stderr)
PY
}

change_forge() {  # ROOT: edit ~1% of the JSON files (a new comment, updated_at moved) and add 20 new issues
  python3 - "$1" <<PY
import json, os, random, sys
$forge_json_lib
root = sys.argv[1]
rnd = random.Random(7)
paths = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".json") and ".metadata" in d)
for p in rnd.sample(paths, max(1, len(paths) // 100)):
    with open(p) as f: d = json.load(f)
    d["comments"].append(comment(rnd, d["html_url"].split("github.com/", 1)[1], rnd.randint(100, 1500))); d["updated_at"] = stamp(rnd, 2024)
    dump(p, d)
for p in rnd.sample(paths, 20):
    d = os.path.dirname(os.path.dirname(p)); account = os.path.basename(os.path.dirname(d)); repo = os.path.basename(d)[:-len(".metadata")]
    os.makedirs(os.path.join(d, "issues"), exist_ok=True)
    number = 1 + max(int(f[:-5]) for k in ("issues", "pulls") if os.path.isdir(os.path.join(d, k)) for f in os.listdir(os.path.join(d, k)))
    dump(os.path.join(d, "issues", f"{number}.json"), item(rnd, account, repo, number, "issues", rnd.randint(1024, 10240)))
PY
}

if [ "$shape" = mixed ]; then gen_mixed "$work/base" "$size_mb"; else gen_forge "$work/base"; fi
# The one repository serve's runs collect (over a file path: no server needed).
git init -q -b main "$work/serve-seed"; echo serve >"$work/serve-seed/README"
git -C "$work/serve-seed" add .; git -C "$work/serve-seed" -c user.name=b -c user.email=b@e commit -q -m serve
git clone -q --bare "$work/serve-seed" "$work/serve-seed.git"

# serve_pushes PROFILE NAME: runs `forgesafe serve` backing up $work/src until three runs have
# succeeded; puts their push seconds in serve_push[NAME/1..3] (a failed run stops the benchmark).
declare -A serve_push
serve_pushes() {
  local profile=$1 name=$2 port pid
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  FORGESAFE_PROFILE=$profile "$fs" serve --listen "127.0.0.1:$port" --schedule "@every 1s" --path serve \
    --dest "$work/src" url "$work/serve-seed.git" >"$work/$name.out" 2>"$work/$name.err" & pid=$!
  # /status's last_run after each run: polled every 50 ms, and a run takes longer than that.
  python3 - "http://127.0.0.1:$port/status" >"$work/$name.runs" <<'PY' || { kill "$pid"; echo "bench: $name: serve's runs failed:" >&2; tail -5 "$work/$name.err" >&2; exit 1; }
import json, sys, time, urllib.request
seen = 0
for _ in range(12000):
    try: s = json.load(urllib.request.urlopen(sys.argv[1]))
    except OSError: time.sleep(0.05); continue
    if s["runs_failed"]: sys.exit(1)
    while seen < s["runs_succeeded"] and seen < 3:
        seen += 1
        if seen == s["runs_succeeded"]: print(s["last_run"]["push_seconds"])
        else: sys.exit("bench: a run ended between two polls")
    if seen >= 3: break
    time.sleep(0.05)
else: sys.exit(1)
PY
  kill -TERM "$pid"; wait "$pid" || true
  local i=0 t
  while read -r t; do i=$((i + 1)); serve_push[$name/$i]=$(printf '%.2f' "$t"); done <"$work/$name.runs"
}
data_size=$(du -sh --apparent-size "$work/base" | cut -f1)
files=$(find "$work/base" -type f | wc -l)

# --- S3: moto on a free loopback port, its request log in $work/s3/moto.log -----------------
moto_pid=
trap '[ -z "$moto_pid" ] || kill "$moto_pid" 2>/dev/null || true' EXIT
start_moto() {
  local port
  for _ in 1 2 3 4 5; do
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    "$moto" -H 127.0.0.1 -p "$port" >"$work/s3/moto.out" 2>"$work/s3/moto.log" & moto_pid=$!
    for _ in $(seq 100); do
      [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/moto-api/data.json")" = 200 ] && { s3_port=$port; return; }
      kill -0 "$moto_pid" 2>/dev/null || break; sleep 0.1
    done
    kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; moto_pid=
  done
  echo "bench: moto_server ($moto) did not start; see $work/s3/moto.log" >&2; exit 1
}
moto_lines() { grep -cE '^[^ ]+ - - \[[^]]*\] "[A-Z]+ ' "$work/s3/moto.log" || true; }
# "total GET PUT HEAD other" of the requests logged after line $1 of the request lines.
moto_counts() {
  { grep -E '^[^ ]+ - - \[[^]]*\] "[A-Z]+ ' "$work/s3/moto.log" || true; } | tail -n +$(($1 + 1)) |
    awk '{m=substr($6,2)} m=="GET"{g++} m=="PUT"{p++} m=="HEAD"{h++} {t++} END{print t+0, g+0, p+0, h+0, t-g-p-h}'
}
s3_size() {  # PREFIX: bytes stored under it (unsigned ListObjectsV2, which moto accepts)
  python3 - "http://127.0.0.1:$s3_port/bench" "$1/" <<'PY'
import sys, urllib.parse, urllib.request, xml.etree.ElementTree as ET
url, prefix = sys.argv[1], sys.argv[2]
ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
total, token = 0, None
while True:
    q = {"list-type": "2", "prefix": prefix}
    if token: q["continuation-token"] = token
    root = ET.fromstring(urllib.request.urlopen(url + "?" + urllib.parse.urlencode(q)).read())
    total += sum(int(e.text) for e in root.iter(ns + "Size"))
    token = root.findtext(ns + "NextContinuationToken")
    if not token: break
print(f"{total / 2**20:.0f}M")
PY
}

declare -A reqs
# step NAME COMMAND...: measure, plus on S3 the requests it made (reqs[NAME] = "total G P H other").
step() {
  local name=$1 before; shift
  if [ "$st" = s3 ]; then before=$(moto_lines); fi
  measure "$st/$name" "$@"
  if [ "$st" = s3 ]; then reqs[$st/$name]=$(moto_counts "$before"); fi
}

rows=$work/rows.tsv; : >"$rows"; notes=()
row() { local IFS=$'\t'; echo "$*" >>"$rows"; }
calc() { python3 -c "print($1)"; }
met() { python3 -c "print('yes' if $1 else 'no')"; }
cell() {  # NAME: "SECONDS s (RSS MiB)", plus the requests on S3
  local c="${secs[$1]} s (${rss[$1]} MiB)"
  if [ -n "${reqs[$1]:-}" ]; then read -r t g p h o <<<"${reqs[$1]}"; c+=", $t req: ${g}G ${p}P ${h}H ${o}o"; fi
  echo "$c"
}

for st in "${stores[@]}"; do
  d=$work/$st; mkdir -p "$d"
  rm -rf "$work/src"; cp -a "$work/base" "$work/src"
  export RESTIC_CACHE_DIR=$d/restic-cache FORGESAFE_CACHE_DIR=$d/fs-cache
  if [ "$st" = local ]; then
    profile="{\"Location\":{\"type\":\"local\",\"path\":\"$d/fs-repo\"}}"
    repo=$d/restic-repo
  else
    start_moto
    [ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT "http://127.0.0.1:$s3_port/bench")" = 200 ] ||
      { echo "bench: creating the bucket on moto failed" >&2; exit 1; }
    profile="{\"Location\":{\"type\":\"s3Compliant\",\"bucket\":\"bench\",\"endpoint\":\"http://127.0.0.1:$s3_port\",\"prefix\":\"forgesafe\",\"region\":\"us-east-1\"},\"Credential\":{\"Type\":\"keyPair\",\"KeyPair\":{\"ID\":\"$AWS_ACCESS_KEY_ID\",\"Secret\":\"$AWS_SECRET_ACCESS_KEY\"},\"Secret\":null,\"KopiaServerSecret\":null},\"SkipSSLVerify\":false}"
    repo=s3:http://127.0.0.1:$s3_port/bench/restic
  fi
  restic -q -r "$repo" init >/dev/null
  echo "bench: $st: pushing and pulling ($shape, $data_size, $files files)" >&2

  step fs_first     "$fs" location push "$work/src" -p "$profile" -s bench
  step restic_first restic -q -r "$repo" backup "$work/src"
  step fs_same      "$fs" location push "$work/src" -p "$profile" -s bench
  step restic_same  restic -q -r "$repo" backup "$work/src"
  if [ "$shape" = mixed ]; then change_mixed "$work/src" "$size_mb"; else change_forge "$work/src"; fi
  step fs_changed     "$fs" location push "$work/src" -p "$profile" -s bench
  step restic_changed restic -q -r "$repo" backup "$work/src"
  step fs_pull     "$fs" location pull "$d/fs-restored" -p "$profile" -s bench
  step restic_pull restic -q -r "$repo" restore latest --target "$d/restic-restored"

  diff -r "$work/src" "$d/fs-restored" >"$d/fs-restored.diff" 2>&1 ||
    { echo "bench: $st: forgesafe's restore differs from the source (see $d/fs-restored.diff)" >&2; exit 1; }
  diff -r "$work/src" "$d/restic-restored$work/src" >"$d/restic-restored.diff" 2>&1 ||
    { echo "bench: $st: restic's restore differs from the source (see $d/restic-restored.diff)" >&2; exit 1; }

  if [ "$st" = local ]; then serve_profile="{\"Location\":{\"type\":\"local\",\"path\":\"$d/serve-repo\"}}"
  else serve_profile=${profile/\"prefix\":\"forgesafe\"/\"prefix\":\"serve\"}; fi
  echo "bench: $st: serve's scheduled runs of the changed tree" >&2
  serve_pushes "$serve_profile" "$st/serve"

  pre=$st/
  for x in first same changed pull; do
    case $x in first) label="first push" target=0.8 ;; same) label="unchanged re-push" target=0.5 ;;
                changed) label="1%-changed re-push" target=0.6 ;; pull) label="pull (time)" target=1.0 ;; esac
    row "$st" "$label" "$(cell "${pre}fs_$x")" "$(cell "${pre}restic_$x")" "$(ratio "${secs[${pre}fs_$x]}" "${secs[${pre}restic_$x]}")" \
      "<= $target" "$(met "${secs[${pre}restic_$x]} > 0 and ${secs[${pre}fs_$x]} <= $target * ${secs[${pre}restic_$x]}")"
    if [ $x = same ]; then
      row "$st" "unchanged / first push" "$(ratio "${secs[${pre}fs_same]}" "${secs[${pre}fs_first]}")" "$(ratio "${secs[${pre}restic_same]}" "${secs[${pre}restic_first]}")" "" \
        "forgesafe <= 0.05" "$(met "${secs[${pre}fs_same]} <= 0.05 * ${secs[${pre}fs_first]}")"
    fi
  done
  first=${serve_push[${pre}serve/1]} again=${serve_push[${pre}serve/2]} third=${serve_push[${pre}serve/3]}
  row "$st" "serve: unchanged re-push" "$again s, $third s" "${secs[${pre}restic_same]} s" "$(ratio "$again" "${secs[${pre}restic_same]}")" \
    "<= 0.5" "$(met "$again <= 0.5 * ${secs[${pre}restic_same]}")"
  row "$st" "serve: unchanged / first push" "$(ratio "$again" "$first") (first $first s)" "" "" \
    "forgesafe <= 0.05" "$(met "$again <= 0.05 * $first")"
  row "$st" "pull (peak RSS)" "${rss[${pre}fs_pull]} MiB" "${rss[${pre}restic_pull]} MiB" "$(ratio "${rss[${pre}fs_pull]}" "${rss[${pre}restic_pull]}")" \
    "<= 2.0" "$(met "${rss[${pre}fs_pull]} <= 2.0 * ${rss[${pre}restic_pull]}")"
  max_fs=0 max_restic=0
  for x in first same changed pull; do
    if [ "${rss[${pre}fs_$x]}" -gt "$max_fs" ]; then max_fs=${rss[${pre}fs_$x]} max_fs_step=$x; fi
    if [ "${rss[${pre}restic_$x]}" -gt "$max_restic" ]; then max_restic=${rss[${pre}restic_$x]}; fi
  done
  row "$st" "peak RSS, any step" "$max_fs MiB ($max_fs_step)" "$max_restic MiB" "$(ratio "$max_fs" "$max_restic")" \
    "forgesafe <= 512 MiB" "$(met "$max_fs <= 512")"
  if [ "$st" = local ]; then
    notes+=("local: repository size forgesafe $(du -sh "$d/fs-repo" | cut -f1), restic $(du -sh "$d/restic-repo" | cut -f1); both restores identical to the source")
  else
    notes+=("s3: repository size forgesafe $(s3_size forgesafe), restic $(s3_size restic); both restores identical to the source")
    kill "$moto_pid" 2>/dev/null || true; wait "$moto_pid" 2>/dev/null || true; moto_pid=
  fi
done

printf '\nshape %s, %s in %s files, %s cores; ratio = forgesafe / restic\n' "$shape" "$data_size" "$files" "$(nproc)"
python3 - "$rows" <<'PY'
import sys
head = ["store", "step", "forgesafe", "restic", "ratio", "target", "met"]
rows = [head] + [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
w = [max(len(r[i]) for r in rows) for i in range(len(head))]
for r in rows: print("  ".join(c.ljust(w[i]) for i, c in enumerate(r)).rstrip())
PY
printf '%s\n' "${notes[@]}"
[[ " ${stores[*]} " != *" s3 "* ]] || echo "S3 requests per step, from moto's log: total, then G = GET, P = PUT, H = HEAD, o = other (POST, DELETE)"
