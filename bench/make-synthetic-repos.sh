#!/usr/bin/env bash
# Makes COUNT synthetic bare repositories under DIR (DIR/synthetic1.git …): a few hundred commits
# of source-like files each, with a second branch and tags; deterministic (seeded by the index).
#   bench/make-synthetic-repos.sh DIR [COUNT]      (default 8)
set -euo pipefail
dir=$1; count=${2:-8}
mkdir -p "$dir"
for i in $(seq 1 "$count"); do
  git init -q --bare "$dir/synthetic$i.git"
  python3 - "$i" <<'PY' | git -C "$dir/synthetic$i.git" fast-import --quiet
import random, sys
i = int(sys.argv[1]); rnd = random.Random(i); mark = 0; out = sys.stdout
words = "fn let mut impl struct match return use pub async await Result Option".split()
for c in range(400):
    mark += 1
    files = []
    for f in range(rnd.randint(1, 6)):
        body = "".join(" ".join(rnd.choice(words) for _ in range(8)) + f" {rnd.random()}\n" for _ in range(rnd.randint(10, 300)))
        files.append((f"src/m{rnd.randint(0, 60)}.rs", body))
    msg = f"commit {c}\n"
    out.write(f"commit refs/heads/{'main' if c % 7 else 'dev'}\nmark :{mark}\ncommitter B <b@x> {1600000000 + c * 60} +0000\ndata {len(msg)}\n{msg}")
    for path, body in files:
        data = body.encode()
        out.write(f"M 644 inline {path}\ndata {len(data)}\n"); out.flush(); sys.stdout.buffer.write(data); out.write("\n")
    if c % 50 == 0:
        out.write(f"reset refs/tags/v{c}\nfrom :{mark}\n\n")
PY
done
