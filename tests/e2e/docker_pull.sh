#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/docker.rs): a private
# network namespace whose own loopback carries 192.0.2.10-12 (TEST-NET-1), so no traffic leaves
# it, and Docker's default trust of 127.0.0.0/8 does not apply. Every step prints one
# `step: [VERSION] …` line (`step: …` for the shared registries); the Rust test asserts on them.
#
# One set of registries serves every dockerd version (started once):
#   my.private.registry:5000   plain HTTP            (192.0.2.10)
#   secure.registry.test:5443  HTTPS, TLS_CERT/TLS_KEY from a CA only the spec's ca_pem names
#   auth.registry.test:5000    plain HTTP, htpasswd (HTPASSWD), AUTH_USER/AUTH_PASS can push
# Then for each VERSION=DOCKERD argument, on that version's own scratch root WORK/root-VERSION
# (bind-mounted on /etc/docker; /etc/hosts is WORK/hosts): dockerd starts, the pulls fail, `apply`
# of SPEC, the CA works before the reload, SIGHUP (after /_ping answers), the pulls work, a second
# apply changes nothing; then `apply` of SPEC_PRUNED (the HTTP registry, the TLS registry and the
# credentials left the spec), SIGHUP, and that pull fails again.
# Pulls go through the Engine API (tests/e2e/engine_api.py): the CLI is a separate package from
# dockerd 26 on. With dockerd 20.10, Debian 12's own docker CLI pulls from the htpasswd registry
# with the config.json regtrust wrote (HOME is the scratch root's /root).
# Arguments: REGTRUST WORK OCI SPEC SPEC_PRUNED SOCKDIR VERSION=DOCKERD…
set -u
: "${TLS_CERT:?}" "${TLS_KEY:?}" "${HTPASSWD:?}" "${AUTH_USER:?}" "${AUTH_PASS:?}"
regtrust=$1 work=$2 oci=$3 spec=$4 spec_pruned=$5 sockdir=$6
shift 6
here=$(dirname "$0")
# shellcheck source=tests/e2e/docker_lib.sh
. "$here/docker_lib.sh"
ip link set lo up
for n in 10 11 12; do ip addr add "192.0.2.$n/32" dev lo; done
mount --bind "$work/hosts" /etc/hosts

trap cleanup EXIT
registry registry 192.0.2.10:5000 ""
registry tls-registry 192.0.2.11:5443 "  tls:
    certificate: $TLS_CERT
    key: $TLS_KEY"
registry auth-registry 192.0.2.12:5000 "auth:
  htpasswd:
    realm: regtrust-test
    path: $HTPASSWD"
for url in http://my.private.registry:5000/v2/ https://secure.registry.test:5443/v2/ \
  http://auth.registry.test:5000/v2/; do
  for _ in $(seq 100); do
    code=$(curl -ks -o /dev/null -w '%{http_code}' "$url")
    [ "$code" = 200 ] || [ "$code" = 401 ] && break
    sleep 0.1
  done
  echo "step: registry $url $code"
done
for dest in my.private.registry:5000 secure.registry.test:5443 auth.registry.test:5000; do
  if skopeo --insecure-policy copy --quiet --dest-tls-verify=false --dest-creds "$AUTH_USER:$AUTH_PASS" \
    "oci:$oci:latest" "docker://$dest/test/hello:latest" 2>"$work/skopeo.err"; then
    echo "step: pushed to $dest"
  else
    echo "step: push to $dest failed: $(cat "$work/skopeo.err")"; exit 1
  fi
done

image=my.private.registry:5000/test/hello:latest
tls_image=secure.registry.test:5443/test/hello:latest
auth_image=auth.registry.test:5000/test/hello:latest
# docker.io/test/hello: only a registry mirror can serve it (no other network in here).
hub_image=test/hello:latest

for arg in "$@"; do
  v=${arg%%=*} dockerd=${arg#*=}
  root=$work/root-$v
  sock=$sockdir/$v.sock
  log=$work/dockerd-$v.log
  say() { echo "step: [$v] $*"; }
  pull() { say "$1: $(api "$sock" pull "$2" ${3:+"$3"})"; }
  sighup() {
    local before
    before=$(grep -c 'Reloaded configuration' "$log")
    kill -HUP "$dockerd_pid"
    wait_reloaded "$log" "$before" && say "reloaded $1"
    kill -0 "$dockerd_pid" 2>/dev/null && say "alive after reload $1"
  }
  apply() { # label spec
    "$regtrust" apply --spec "$2" --runtime docker --root "$root" > "$work/apply-$v-$1.out" 2>&1
    say "apply $1 exit $?"
    sed "s/^/[$v] apply $1: /" "$work/apply-$v-$1.out"
  }
  # doctor's findings on this root, checked against the spec: `code@file` each.
  doc() {
    "$regtrust" doctor --root "$root" --spec "$spec" --format json 2>/dev/null | python3 -c \
      'import json, sys; print(" ".join(sorted(f["code"] + "@" + f["file"] for f in json.load(sys.stdin)["findings"])))'
  }
  mount --bind "$root/etc/docker" /etc/docker
  start_dockerd "$dockerd" "$sock" "$log" "$work/data-$v" "$sockdir/exec-$v" "$sockdir/$v.pid" \
    || { say "dockerd did not start: $(tail -5 "$log")"; exit 1; }
  say "dockerd $(api "$sock" version)"

  say "doctor before apply: $(doc)"
  say "info before: $(api "$sock" info)"
  pull "before apply" "$image"
  pull "hub before apply" "$hub_image"
  pull "tls before apply" "$tls_image"
  pull "auth before apply" "$auth_image"

  apply first "$spec"
  cp "$root/etc/docker/daemon.json" "$work/daemon-$v.json"
  cp "$root/root/.docker/config.json" "$work/config-$v.json"
  say "config.json mode $(stat -c %a "$root/root/.docker/config.json")"
  # certs.d is read on every pull: no reload needed for the CA.
  pull "tls after apply, before the reload" "$tls_image"
  # certs.d entries dockerd refuses or ignores, each beside what doctor says about it.
  certs=$root/etc/docker/certs.d
  tls_dir=$certs/secure.registry.test:5443
  printf 'x\n' > "$tls_dir/extra.key"
  pull "tls with a key without its cert" "$tls_image"
  say "doctor with a key without its cert: $(doc)"
  rm "$tls_dir/extra.key"
  mv "$tls_dir/ca.crt" "$tls_dir/ca.pem"
  pull "tls with ca.pem" "$tls_image"
  say "doctor with ca.pem: $(doc)"
  mv "$tls_dir/ca.pem" "$tls_dir/ca.crt"
  mkdir -p "$certs/https:"
  mv "$tls_dir" "$certs/https:/"
  pull "tls with certs.d/https://host" "$tls_image"
  say "doctor with certs.d/https://host: $(doc)"
  mv "$certs/https:/secure.registry.test:5443" "$certs/"
  rmdir "$certs/https:"
  sighup first
  say "info after: $(api "$sock" info)"
  pull "after apply" "$image"
  pull "hub after apply" "$hub_image"
  say "image id $(api "$sock" image-id "$image")"
  # The daemon never reads config.json: a pull without X-Registry-Auth still fails…
  pull "auth without a header" "$auth_image"
  # …and one whose header carries what config.json holds (what the CLI sends) works.
  pull "auth with config.json's credentials" "$auth_image" "$root/root/.docker/config.json"
  if [ "${v%%.*}" = 20 ]; then
    # Debian 12's docker CLI (20.10), reading $HOME/.docker/config.json: before the first
    # apply it has nothing (HOME is an empty directory), after it it pulls.
    mkdir -p "$work/empty-home"
    docker=/usr/bin/docker
    cli() { # label home
      local out
      if out=$(HOME=$2 "$docker" -H "unix://$sock" pull "$auth_image" 2>&1); then
        say "cli $1: pulled"
      else
        say "cli $1: failed: $(echo "$out" | tr '\n' ' ')"
      fi
    }
    cli "without config.json" "$work/empty-home"
    cli "with config.json" "$root/root"
  fi
  apply second "$spec"
  say "doctor after apply: $(doc)"

  apply pruned "$spec_pruned"
  sighup pruned
  say "info pruned: $(api "$sock" info)"
  pull "after pruning" "$image"
  pull "tls after pruning" "$tls_image"

  kill "$dockerd_pid"; wait "$dockerd_pid" 2>/dev/null; dockerd_pid=
  umount /etc/docker
done
