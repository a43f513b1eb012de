#!/usr/bin/env bash
# Whole-process benchmark of `regtrust render` and `regtrust apply --dry-run` for specs of
# 1, 10, 100 and 10,000 registries, against `regtrust --version` (process start-up).
# Needs hyperfine (Debian package). Prints hyperfine's table; results go to bench-out/.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v hyperfine >/dev/null || { echo "hyperfine is missing: apt-get install hyperfine" >&2; exit 1; }
cargo build --release --quiet
bin=$PWD/target/release/regtrust
out=$PWD/bench-out
rm -rf "$out"; mkdir -p "$out"

gen() { # n → a spec with n registries: plain HTTP, a CA registry and a mirrored one in turn
  local n=$1 i
  echo "containerd:"; echo "  version: \"1.7\""; echo "registries:"
  for ((i = 0; i < n; i++)); do
    case $((i % 3)) in
      0) printf '  - host: reg%d.corp.example:5000\n    http: true\n' "$i" ;;
      1) printf '  - host: tls%d.corp.example\n    ca: /etc/pki/corp-ca.pem\n    skip_verify: false\n' "$i" ;;
      2) printf '  - host: hub%d.example\n    endpoints:\n      - url: http://cache%d.corp.example:5000\n        capabilities: [pull, resolve]\n' "$i" "$i" ;;
    esac
  done
}

mkdir -p "$out/root/etc/containerd"
printf 'version = 2\n' > "$out/root/etc/containerd/config.toml"
args=(--warmup 3 --min-runs 20 --export-markdown "$out/results.md" --export-json "$out/results.json" -N)
cmds=("$bin --version")
for n in 1 10 100 10000; do
  gen "$n" > "$out/spec-$n.yaml"
  cmds+=("$bin render --spec $out/spec-$n.yaml --target hosts --out $out/render-$n")
  cmds+=("$bin apply --spec $out/spec-$n.yaml --root $out/root --dry-run")
done
hyperfine "${args[@]}" "${cmds[@]}" >&2
sed "s#$out/##g; s#$bin#regtrust#g" "$out/results.md"
