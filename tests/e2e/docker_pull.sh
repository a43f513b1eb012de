#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/docker.rs): a private
# network namespace whose own loopback carries 192.0.2.10 (TEST-NET-1), so no traffic leaves it,
# and Docker's default trust of 127.0.0.0/8 does not apply. /etc/docker and /etc/hosts are the
# scratch root's own. Every step prints one `step: …` line; the Rust test asserts on them.
# A second registry serves HTTPS on 192.0.2.11:5443 (`secure.registry.test`) with the
# certificate and key in TLS_CERT and TLS_KEY (a CA made by the test, which only the spec's
# ca_pem names).
# Arguments: REGTRUST SCRATCH_ROOT OCI_LAYOUT SPEC SOCKDIR
set -u
: "${TLS_CERT:?}" "${TLS_KEY:?}"
regtrust=$1 root=$2 oci=$3 spec=$4 sockdir=$5
work=$(dirname "$root")
ip link set lo up
ip addr add 192.0.2.10/32 dev lo
ip addr add 192.0.2.11/32 dev lo
mount --bind "$root/etc/docker" /etc/docker
mount --bind "$root/etc/hosts" /etc/hosts
docker=/usr/bin/docker
[ -x "$docker" ] || docker=$(command -v docker)

mkdir -p "$work/registry"
cat > "$work/registry/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry/data
http:
  addr: 192.0.2.10:5000
CFG
docker-registry serve "$work/registry/config.yml" > "$work/registry/registry.log" 2>&1 &
registry_pid=$!
mkdir -p "$work/tls-registry"
cat > "$work/tls-registry/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/tls-registry/data
http:
  addr: 192.0.2.11:5443
  tls:
    certificate: $TLS_CERT
    key: $TLS_KEY
CFG
docker-registry serve "$work/tls-registry/config.yml" > "$work/tls-registry/registry.log" 2>&1 &
tls_registry_pid=$!
dockerd_pid=
cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  kill "$registry_pid" "$tls_registry_pid" 2>/dev/null; wait "$registry_pid" "$tls_registry_pid" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 100); do
  curl -fsS -o /dev/null http://my.private.registry:5000/v2/ && break
  sleep 0.1
done
for _ in $(seq 100); do
  curl -ksS -o /dev/null https://secure.registry.test:5443/v2/ && break
  sleep 0.1
done
echo "step: registry $(curl -s -o /dev/null -w '%{http_code}' http://my.private.registry:5000/v2/)"
echo "step: tls registry $(curl -ks -o /dev/null -w '%{http_code}' https://secure.registry.test:5443/v2/)"
for dest in my.private.registry:5000 secure.registry.test:5443; do
  if skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:latest" \
    "docker://$dest/test/hello:latest" 2>"$work/skopeo.err"; then
    echo "step: pushed to $dest"
  else
    echo "step: push to $dest failed: $(cat "$work/skopeo.err")"; exit 1
  fi
done

sock="unix://$sockdir/docker.sock"
dockerd --data-root "$work/docker-data" --exec-root "$sockdir/exec" --pidfile "$sockdir/docker.pid" \
  -H "$sock" --bridge=none --iptables=false --ip6tables=false > "$work/dockerd.log" 2>&1 &
dockerd_pid=$!
ping_ok() { curl -fsS --unix-socket "$sockdir/docker.sock" http://d/_ping 2>/dev/null | grep -q OK; }
for _ in $(seq 300); do ping_ok && break; kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.1; done
ping_ok || { echo "step: dockerd did not start: $(tail -5 "$work/dockerd.log")"; exit 1; }
echo "step: dockerd $("$docker" -H "$sock" version --format '{{.Server.Version}}')"

image=my.private.registry:5000/test/hello:latest
tls_image=secure.registry.test:5443/test/hello:latest
# docker.io/test/hello: only a registry mirror can serve it (no other network in here).
hub_image=test/hello:latest
pull() {
  if out=$("$docker" -H "$sock" pull "$2" 2>&1); then
    echo "step: $1: pulled"
  else
    echo "step: $1: failed: $(echo "$out" | tr '\n' ' ')"
  fi
}
info() {
  echo "step: $1: $("$docker" -H "$sock" info --format \
    'insecure {{range .RegistryConfig.IndexConfigs}}{{if not .Secure}}{{.Name}} {{end}}{{end}}mirrors {{range .RegistryConfig.Mirrors}}{{.}} {{end}}' 2>&1)"
}
info "info before"
pull "before apply" "$image"
pull "hub before apply" "$hub_image"
pull "tls before apply" "$tls_image"

"$regtrust" apply --spec "$spec" --runtime docker --root "$root" > "$work/apply.out" 2>&1
echo "step: apply exit $?"
sed 's/^/apply: /' "$work/apply.out"
# certs.d is read on every pull: no reload needed for the CA.
pull "tls after apply, before the reload" "$tls_image"

kill -HUP "$dockerd_pid"
# The reload is logged; give dockerd a moment to read the file.
for _ in $(seq 50); do grep -q 'Reloaded configuration' "$work/dockerd.log" && break; sleep 0.1; done
grep -q 'Reloaded configuration' "$work/dockerd.log" && echo "step: reloaded"
kill -0 "$dockerd_pid" 2>/dev/null && echo "step: dockerd alive after reload"
info "info after"
pull "after apply" "$image"
pull "hub after apply" "$hub_image"
"$docker" -H "$sock" image inspect --format '{{.Id}}' "$image" 2>&1 | sed 's/^/step: image id /'
