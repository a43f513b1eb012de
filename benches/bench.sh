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

# shellcheck source=benches/gen-spec.sh
. "$PWD/benches/gen-spec.sh"

mkdir -p "$out/root/etc/containerd"
printf 'version = 2\n' > "$out/root/etc/containerd/config.toml"
args=(--warmup 3 --min-runs 20 --export-markdown "$out/results.md" --export-json "$out/results.json" -N)
cmds=("$bin --version")
for n in 1 10 100 10000; do
  gen "$n" > "$out/spec-$n.yaml"
  cmds+=("$bin render --spec $out/spec-$n.yaml --target hosts --out $out/render-$n")
  cmds+=("$bin apply --spec $out/spec-$n.yaml --root $out/root --dry-run")
done
# cloud-init user-data with every runtime's part (the node decides), and the same as a Terraform
# template with a host as a variable (one more render, to check the value is the spec's alone).
for n in 1 100; do
  cmds+=("$bin render --spec $out/spec-$n.yaml --target cloud-init --out $out/user-data-$n")
  cmds+=("$bin render --spec $out/spec-$n.yaml --target cloud-init --escape terraform --template-var h=reg0.corp.example:5000 --out $out/user-data-$n.tftpl")
done
hyperfine "${args[@]}" "${cmds[@]}" >&2
sed "s#$out/##g; s#$bin#regtrust#g" "$out/results.md"
