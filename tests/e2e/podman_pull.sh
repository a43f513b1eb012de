#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/podman.rs): a private
# network namespace whose own loopback carries 192.0.2.20-23 (TEST-NET-1), so no packet (not
# even a DNS query) leaves it. /etc/containers and /etc/hosts are the scratch root's own (bind
# mounts), /run and /var/lib/containers are tmpfs, so nothing of this machine's Podman state is
# read or written. Every step prints one `step: …` line; the Rust test asserts on them.
# Servers (docker-registry):
#   my.private.registry:5000     192.0.2.20  plain HTTP
#   secure.registry.test:5443    192.0.2.21  HTTPS, certificate from TLS_CERT/TLS_KEY (a CA made
#                                            by the test, which only the spec's ca_pem names)
#   cache.registry.test:5000     192.0.2.22  plain HTTP, the mirror of unreachable.registry.test
#                                            (a name that resolves nowhere)
#   auth.registry.test:5000      192.0.2.23  plain HTTP, htpasswd (HTPASSWD) user alice
# Every pull is done by Debian 12's podman and skopeo, and by each NEWER_TOOLS entry
# (space-separated NAME-VERSION=TREE, NAME podman or skopeo): TREE/usr/bin/NAME run with TREE's own
# C library through suite_libc.sh (trixie's and sid's binaries need a newer glibc than Debian 12's).
# Arguments: REGTRUST SCRATCH_ROOT OCI_LAYOUT SPEC
set -u
here=$(cd "$(dirname "$0")" && pwd)
: "${TLS_CERT:?}" "${TLS_KEY:?}" "${HTPASSWD:?}" "${ALICE_PASSWORD:?}"
regtrust=$1 root=$2 oci=$3 spec=$4
work=$(dirname "$root")
ip link set lo up
for n in 20 21 22 23; do ip addr add "192.0.2.$n/32" dev lo; done
mount --bind "$root/etc/containers" /etc/containers
mount --bind "$root/etc/hosts" /etc/hosts
mount -t tmpfs tmpfs /run
[ -d /var/lib/containers ] && mount -t tmpfs tmpfs /var/lib/containers
export HOME=$work/home TMPDIR=$work/tmp
mkdir -p "$HOME" "$TMPDIR"

serve() { # NAME ADDR [extra http: lines] [extra top-level lines]
  local dir=$work/$1
  mkdir -p "$dir"
  {
    printf 'version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\n'
    printf 'storage:\n  filesystem:\n    rootdirectory: %s/data\n' "$dir"
    printf 'http:\n  addr: %s\n' "$2"
    printf '%s' "${3:-}"
    printf '%s' "${4:-}"
  } > "$dir/config.yml"
  docker-registry serve "$dir/config.yml" > "$dir/registry.log" 2>&1 &
  pids="${pids:-} $!"
}
serve plain 192.0.2.20:5000
serve secure 192.0.2.21:5443 "$(printf '  tls:\n    certificate: %s\n    key: %s\n' "$TLS_CERT" "$TLS_KEY")"
serve cache 192.0.2.22:5000
serve auth 192.0.2.23:5000 "" "$(printf 'auth:\n  htpasswd:\n    realm: regtrust\n    path: %s\n' "$HTPASSWD")"
trap 'kill $pids 2>/dev/null; wait $pids 2>/dev/null' EXIT

status() { curl -ks -o /dev/null -w '%{http_code}' "$1"; }
for url in http://my.private.registry:5000/v2/ https://secure.registry.test:5443/v2/ \
  http://cache.registry.test:5000/v2/ http://auth.registry.test:5000/v2/; do
  for _ in $(seq 100); do
    case $(status "$url") in 200|401) break ;; esac
    sleep 0.1
  done
  echo "step: up $url $(status "$url")"
done
push() { # DEST [CREDS]
  if skopeo --insecure-policy copy --quiet --dest-tls-verify=false ${2:+--dest-creds "$2"} \
    "oci:$oci:latest" "docker://$1" 2>"$work/skopeo.err"; then
    echo "step: pushed $1"
  else
    echo "step: push $1 failed: $(cat "$work/skopeo.err")"; exit 1
  fi
}
push my.private.registry:5000/test/hello:latest
push secure.registry.test:5443/test/hello:latest
push cache.registry.test:5000/test/hello:latest
push auth.registry.test:5000/test/hello:latest "alice:$ALICE_PASSWORD"

images="my.private.registry:5000/test/hello:latest secure.registry.test:5443/test/hello:latest
unreachable.registry.test/test/hello:latest auth.registry.test:5000/test/hello:latest"
tools="podman skopeo"
for entry in ${NEWER_TOOLS:-}; do tools="$tools ${entry%%=*}"; done
run_tool() { # TOOL ARG…: podman or skopeo from PATH, or a NEWER_TOOLS entry with its tree's libc
  local tool=$1 entry tree
  shift
  for entry in ${NEWER_TOOLS:-}; do
    [ "${entry%%=*}" = "$tool" ] || continue
    tree=${entry#*=}
    # Podman 5 wants its network helper (netavark, from the same suite) present, even to pull.
    CONTAINERS_HELPER_BINARY_DIR=$tree/usr/lib/podman \
      sh "$here/suite_libc.sh" "$tree" "$tree/usr/bin/${tool%%-*}" "$@"
    return
  done
  "$tool" "$@"
}
for entry in ${NEWER_TOOLS:-}; do
  echo "step: version ${entry%%=*} $(run_tool "${entry%%=*}" --version 2>&1)"
done
copy_image() { # TOOL N IMAGE [--authfile FILE]: one pull, into storage (or a layout) of its own
  local tool=$1 n=$2 image=$3
  shift 3
  case $tool in
    podman*) run_tool "$tool" --root "$work/storage-$n" --runroot "/run/rr-$n" \
      --storage-driver vfs pull --quiet "$@" "$image" ;;
    skopeo*) run_tool "$tool" copy --quiet "$@" "docker://$image" "oci:$work/skopeo-$n:latest" ;;
  esac
}
n=0
pull() { # TOOL LABEL IMAGE [--authfile FILE]
  n=$((n + 1))
  local tool=$1 label=$2 image=$3
  shift 3
  if out=$(copy_image "$tool" "$n" "$image" "$@" 2>&1); then
    echo "step: $tool $label $image: pulled"
  else
    echo "step: $tool $label $image: failed: $(echo "$out" | tail -1)"
  fi
}
pull_all() { # LABEL AUTHFILE
  for image in $images; do
    for tool in $tools; do pull "$tool" "$1" "$image" --authfile "$2"; done
  done
}
# podman and skopeo want the auth file to exist when named.
echo '{}' > "$work/empty-auth.json"
pull_all "before apply" "$work/empty-auth.json"
"$regtrust" apply --spec "$spec" --root "$root" > "$work/apply.out" 2>&1
echo "step: apply exit $?"
sed 's/^/apply: /' "$work/apply.out"
pull_all "after apply" /etc/containers/auth.json
# The credentials are in /etc/containers/auth.json only: without it, alice is not known.
pull podman "without the auth file" auth.registry.test:5000/test/hello:latest
"$regtrust" apply --spec "$spec" --root "$root" > "$work/apply2.out" 2>&1
echo "step: second apply exit $?"
sed 's/^/apply2: /' "$work/apply2.out"
echo "step: mirror requests $(grep -c 'GET /v2/test/hello/manifests/latest' "$work/cache/registry.log")"
