#!/bin/sh
# Runs PROGRAM with the C library (and the other shared libraries) unpacked in TREE, a directory
# that .ci/install-deps filled with `dpkg -x` of a newer Debian suite's .debs: Podman and Skopeo
# from trixie and sid need glibc >= 2.38, Debian 12 has 2.36. In a mount namespace of its own,
# TREE's usr/lib/x86_64-linux-gnu is laid over the system's (a read-only overlay, the system's
# files beneath), so the binary starts unmodified with its own suite's loader and libc, and
# /proc/self/exe stays the binary (containers/storage re-executes itself to unpack layers).
# Nothing outside that namespace changes.
# Usage: suite_libc.sh TREE PROGRAM [ARG…]
set -eu
tree=$1
shift
[ -d "$tree/usr/lib/x86_64-linux-gnu" ] || {
  echo "suite_libc.sh: no $tree/usr/lib/x86_64-linux-gnu: run .ci/install-deps (as root)" >&2
  exit 2
}
lib=$(readlink -f /lib/x86_64-linux-gnu)
# shellcheck disable=SC2016 # the inner shell expands them
SUITE_LIB=$tree/usr/lib/x86_64-linux-gnu SYSTEM_LIB=$lib exec unshare --mount --propagation private \
  sh -c 'mount -t overlay regtrust-suite-libc -o "lowerdir=$SUITE_LIB:$SYSTEM_LIB" "$SYSTEM_LIB" &&
    exec "$@"' sh "$@"
