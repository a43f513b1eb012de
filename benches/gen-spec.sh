# Sourced by the bench scripts: gen N prints a spec of N registries (plain HTTP, a CA registry,
# and a mirrored one, in turn).
gen() {
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
