#!/usr/bin/env bash
# The two figures of the architecture issue, measured on this machine:
#  1. the first `regtrust apply` of a 10,000-registry spec into an empty root (durable writes),
#     against a minimal writer of the same tree (Python: makedirs, write a temp file, rename,
#     one os.sync() at the end, no directory fsyncs) — the target is at most 2x;
#  2. the peak RSS of a 10-registry `render --target cloud-init` — the target is at most 5 MiB —
#     for the dynamically linked release build and for the static one shipped to nodes.
# Needs hyperfine and GNU time (Debian packages). Prints both with the machine they ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "GNU time is missing: apt-get install time" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/regtrust
out=$PWD/bench-out/first-apply
rm -rf "$out"; mkdir -p "$out"

# shellcheck source=benches/gen-spec.sh
. "$PWD/benches/gen-spec.sh"
gen 10000 > "$out/spec-10000.yaml"
gen 10 > "$out/spec-10.yaml"

# The tree regtrust writes, as JSON (path → content), for the minimal writer.
"$bin" render --spec "$out/spec-10000.yaml" --target json > "$out/plan.json"
cat > "$out/minimal.py" <<'PY'
import json, os, sys
root = sys.argv[1]
plan = json.load(open(sys.argv[2]))
for f in plan["files"]:
    p = root + f["path"]
    os.makedirs(os.path.dirname(p), exist_ok=True)
    t = p + ".tmp"
    with open(t, "w") as h:
        h.write(f["content"])
    os.rename(t, p)
os.sync()
PY

prep='rm -rf '"$out"'/root && mkdir -p '"$out"'/root/etc/containerd && printf "version = 2\n" > '"$out"'/root/etc/containerd/config.toml'
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -r), $(df -T "$out" | awk 'NR==2 {print $2}') filesystem"
hyperfine --warmup 1 --runs 5 -N --prepare "sh -c '$prep'" \
  --export-markdown "$out/first-apply.md" \
  "$bin apply --spec $out/spec-10000.yaml --root $out/root" \
  "python3 $out/minimal.py $out/root $out/plan.json" >&2
sed "s#$out/##g; s#$bin#regtrust#g" "$out/first-apply.md"

# Peak RSS, the release build as `cargo build --release` makes it and the static build that is
# shipped to nodes (glibc +crt-static: no shared libraries to map).
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --quiet \
  --target x86_64-unknown-linux-gnu --target-dir "$PWD/target/static"
static=$PWD/target/static/x86_64-unknown-linux-gnu/release/regtrust
for b in "$bin" "$static"; do
  rss=$(/usr/bin/time -f %M "$b" render --spec "$out/spec-10.yaml" --target cloud-init 2>&1 >/dev/null | tail -1)
  echo "render --target cloud-init, 10 registries, ${b#"$PWD"/}: peak RSS ${rss} KiB"
done
