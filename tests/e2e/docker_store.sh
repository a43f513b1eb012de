#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/docker.rs): which registry
# settings dockerd honours with the containerd image store (`"features": {"containerd-snapshotter":
# true}`), measured with one dockerd (28.5) and its own managed containerd. Same namespace layout
# as docker_pull.sh: registries on 192.0.2.10 (plain HTTP) and 192.0.2.11 (HTTPS, a CA made by
# the test) on the namespace's own loopback. Every step prints one `step: …` line.
# Between pulls the image is deleted, so each pull resolves and fetches from the registry again.
# Arguments: REGTRUST WORK OCI SPEC SPEC_PRUNED SOCKDIR DOCKERD
set -u
: "${TLS_CERT:?}" "${TLS_KEY:?}"
regtrust=$1 work=$2 oci=$3 spec=$4 spec_pruned=$5 sockdir=$6 dockerd=$7
here=$(dirname "$0")
# shellcheck source=tests/e2e/docker_lib.sh
. "$here/docker_lib.sh"
trap cleanup EXIT
root=$work/root
sock=$sockdir/store.sock
log=$work/dockerd.log
ip link set lo up
for n in 10 11; do ip addr add "192.0.2.$n/32" dev lo; done
mount --bind "$work/hosts" /etc/hosts
mount --bind "$root/etc/docker" /etc/docker
# containerd's own certs.d: a scratch directory, so a hosts.toml there is the test's.
mkdir -p "$root/etc/containerd" /etc/containerd
mount --bind "$root/etc/containerd" /etc/containerd

registry registry 192.0.2.10:5000 ""
registry tls-registry 192.0.2.11:5443 "  tls:
    certificate: $TLS_CERT
    key: $TLS_KEY"
for url in http://my.private.registry:5000/v2/ https://secure.registry.test:5443/v2/; do
  for _ in $(seq 100); do
    [ "$(curl -ks -o /dev/null -w '%{http_code}' "$url")" = 200 ] && break
    sleep 0.1
  done
done
for dest in my.private.registry:5000 secure.registry.test:5443; do
  if skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:latest" \
    "docker://$dest/test/hello:latest" 2>"$work/skopeo.err"; then
    echo "step: pushed to $dest"
  else
    echo "step: push failed: $(cat "$work/skopeo.err")"; exit 1
  fi
done

image=my.private.registry:5000/test/hello:latest
tls_image=secure.registry.test:5443/test/hello:latest
hub_image=test/hello:latest
pull() { # label ref: pull, then delete the image so the next pull fetches again
  echo "step: $1: $(api "$sock" pull "$2")"
  curl -s -o /dev/null --unix-socket "$sock" -X DELETE "http://d/images/$(printf %s "$2" | sed 's|/|%2F|g')?force=1"
}
start() { # label storage-driver
  start_dockerd "$dockerd" "$sock" "$log" "$work/data-$1" "$sockdir/exec-$1" "$sockdir/$1.pid" "$2" \
    || { echo "step: dockerd did not start: $(tail -5 "$log")"; exit 1; }
}
stop() { kill "$dockerd_pid"; wait "$dockerd_pid" 2>/dev/null; dockerd_pid=; }
sighup() {
  local before
  before=$(grep -c 'Reloaded configuration' "$log")
  kill -HUP "$dockerd_pid"
  wait_reloaded "$log" "$before" && echo "step: reloaded $1"
}
hosts_toml() { # dir
  mkdir -p "$1/my.private.registry:5000"
  printf '%s\n' 'server = "http://my.private.registry:5000"' \
    '[host."http://my.private.registry:5000"]' 'capabilities = ["pull", "resolve"]' \
    > "$1/my.private.registry:5000/hosts.toml"
}

# The classic image store (graph drivers): a hosts.toml in Docker's certs.d.
echo '{}' > "$root/etc/docker/daemon.json"
start classic vfs
echo "step: classic store $(curl -s --unix-socket "$sock" http://d/info | python3 -c 'import json,sys; i=json.load(sys.stdin); print(i["Driver"], i["DriverStatus"])')"
hosts_toml "$root/etc/docker/certs.d"
pull "classic, hosts.toml in /etc/docker/certs.d" "$image"
rm -rf "$root/etc/docker/certs.d"
stop

# The containerd image store (its `native` snapshotter: vfs is no snapshotter).
echo '{"features": {"containerd-snapshotter": true}}' > "$root/etc/docker/daemon.json"
cp "$root/etc/docker/daemon.json" "$work/seed.json"
start containerd native
echo "step: containerd store $(curl -s --unix-socket "$sock" http://d/info | python3 -c 'import json,sys; i=json.load(sys.stdin); print(i["Driver"], i["DriverStatus"])')"
pull "store, nothing" "$image"
hosts_toml "$root/etc/containerd/certs.d"
pull "store, hosts.toml in /etc/containerd/certs.d" "$image"
rm -rf "$root/etc/containerd/certs.d"
hosts_toml "$root/etc/docker/certs.d"
pull "store, hosts.toml in /etc/docker/certs.d" "$image"
rm -rf "$root/etc/docker/certs.d"
pull "store, removed again" "$image"
pull "store, tls before apply" "$tls_image"
pull "store, hub before apply" "$hub_image"

"$regtrust" apply --spec "$spec" --runtime docker --root "$root" > "$work/apply.out" 2>&1
echo "step: apply exit $?"
sed 's/^/apply: /' "$work/apply.out"
pull "store, tls after apply, before the reload" "$tls_image"
sighup first
pull "store, after apply" "$image"
pull "store, hub after apply" "$hub_image"
pull "store, tls after apply" "$tls_image"
"$regtrust" apply --spec "$spec_pruned" --runtime docker --root "$root" > "$work/apply-pruned.out" 2>&1
echo "step: apply pruned exit $?"
sighup pruned
echo "step: info after pruning: $(api "$sock" info)"
pull "store, after pruning" "$image"
pull "store, tls after pruning" "$tls_image"
stop
