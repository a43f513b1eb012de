#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/podman.rs, the doctor
# test): registries on 192.0.2.30-31 (TEST-NET-1) on the namespace's own loopback, then for each
# case a Podman pull with that case's /etc/containers (a bind mount of CASES/<case>/etc/containers;
# /etc/hosts is CASES/hosts, /run and /var/lib/containers are tmpfs). One `step: …` line each.
#   my.private.registry:5000   192.0.2.30  plain HTTP
#   secure.registry.test:5443  192.0.2.31  HTTPS (TLS_CERT, TLS_KEY: a CA made by the test)
# Arguments: OCI_LAYOUT CASES CASE=IMAGE...
set -u
: "${TLS_CERT:?}" "${TLS_KEY:?}"
oci=$1 cases=$2
shift 2
work=$cases/work
mkdir -p "$work"
ip link set lo up
ip addr add 192.0.2.30/32 dev lo
ip addr add 192.0.2.31/32 dev lo
mount --bind "$cases/hosts" /etc/hosts
mount -t tmpfs tmpfs /run
[ -d /var/lib/containers ] && mount -t tmpfs tmpfs /var/lib/containers
export HOME=$work/home TMPDIR=$work/tmp
mkdir -p "$HOME" "$TMPDIR"
serve() { # NAME ADDR [extra http: lines]
  mkdir -p "$work/$1"
  printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n%s' \
    "$work/$1/data" "$2" "${3:-}" > "$work/$1/config.yml"
  docker-registry serve "$work/$1/config.yml" > "$work/$1/registry.log" 2>&1 &
  pids="${pids:-} $!"
}
serve plain 192.0.2.30:5000
serve secure 192.0.2.31:5443 "$(printf '  tls:\n    certificate: %s\n    key: %s\n' "$TLS_CERT" "$TLS_KEY")"
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null' EXIT
for url in http://my.private.registry:5000/v2/ https://secure.registry.test:5443/v2/; do
  for _ in $(seq 100); do
    [ "$(curl -ks -o /dev/null -w '%{http_code}' "$url")" = 200 ] && break
    sleep 0.1
  done
done
for dest in my.private.registry:5000 secure.registry.test:5443; do
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:latest" \
    "docker://$dest/test/hello:latest" 2>"$work/skopeo.err" && echo "step: pushed $dest" \
    || { echo "step: push $dest failed: $(cat "$work/skopeo.err")"; exit 1; }
done
n=0
for arg in "$@"; do
  case=${arg%%=*} image=${arg#*=}
  n=$((n + 1))
  mount --bind "$cases/$case/etc/containers" /etc/containers
  if out=$(podman --root "$work/storage-$n" --runroot "/run/rr-$n" --storage-driver vfs \
    pull --quiet "$image" 2>&1); then
    echo "step: $case: pulled"
  else
    echo "step: $case: failed: $(echo "$out" | tail -1)"
  fi
  umount /etc/containers
done
