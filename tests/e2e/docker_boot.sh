#!/usr/bin/env bash
# Runs inside `unshare --net --mount --propagation private` (tests/real/docker_boot.rs): the boot
# outputs' Docker part on a node, with dockerd 20.10 and a plain-HTTP registry on 192.0.2.10
# (TEST-NET-1, on this namespace's own loopback: Docker's default trust of 127.0.0.0/8 does not
# apply). /etc/docker, /etc/containerd and /usr/local/sbin are the scratch root's, /run and
# /var/lib/cloud tmpfs; `systemctl` is a recording stand-in first on PATH: it logs every call,
# says docker is active and containerd is not, and `reload docker` sends dockerd the SIGHUP
# systemd would. Steps print `step: …` lines; the Rust test asserts on them.
#   1. the pull fails (negative control); 2. cloud-init's write_files and runcmd modules run the
#   user-data, then runcmd again; 3. the seed is put back (and dockerd reloaded), the pull fails
#   again, the installer runs with dash, then again; 4. `regtrust apply` with a spec without the
#   registry removes regtrust's entry, a SIGHUP, and the pull fails.
# Arguments: REGTRUST WORK OCI USERDATA INSTALLER SPEC_EMPTY SOCKDIR DOCKERD
set -u
regtrust=$1 work=$2 oci=$3 userdata=$4 installer=$5 spec_empty=$6 sockdir=$7 dockerd=$8
here=$(dirname "$0")
# shellcheck source=tests/e2e/docker_lib.sh
. "$here/docker_lib.sh"
trap cleanup EXIT
ip link set lo up
ip addr add 192.0.2.10/32 dev lo
mount --bind "$work/hosts" /etc/hosts
root=$work/root
mount --bind "$root/etc/docker" /etc/docker
mount --bind "$root/etc/containerd" /etc/containerd
mount --bind "$root/usr/local/sbin" /usr/local/sbin
mount -t tmpfs regtrust-e2e /run
mkdir -p /var/lib/cloud
mount -t tmpfs regtrust-e2e /var/lib/cloud
mkdir -p "$work/bin"
cat > "$work/bin/systemctl" <<SH
#!/bin/sh
echo "\$*" >> "$work/systemctl.log"
case "\$*" in
  "is-active --quiet docker") exit 0 ;;
  "reload docker") kill -HUP "\$(cat "$sockdir/pid")"; exit 0 ;;
  *) exit 3 ;;
esac
SH
chmod +x "$work/bin/systemctl"
export PATH="$work/bin:$PATH"
: > "$work/systemctl.log"

registry registry 192.0.2.10:5000 ""
for _ in $(seq 100); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' http://my.private.registry:5000/v2/)" = 200 ] && break
  sleep 0.1
done
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$oci:latest" \
  docker://my.private.registry:5000/test/hello:latest && echo "step: pushed"

sock=$sockdir/d.sock
log=$work/dockerd.log
image=my.private.registry:5000/test/hello:latest
start_dockerd "$dockerd" "$sock" "$log" "$work/data" "$sockdir/exec" "$sockdir/pid" \
  || { echo "step: dockerd did not start: $(tail -5 "$log")"; exit 1; }
echo "step: dockerd $(api "$sock" version)"
pull() { echo "step: $1: $(api "$sock" pull "$image")"; }
reloads() { grep -c 'Reloaded configuration' "$log"; }
calls() { echo "step: systemctl $1: $(tr '\n' ';' < "$work/systemctl.log")"; : > "$work/systemctl.log"; }

pull "before"

# 2. cloud-init's own modules, as at boot.
before=$(reloads)
cloud-init --file "$userdata" single --name write_files --frequency always > "$work/ci.log" 2>&1 \
  && echo "step: write_files ok"
cloud-init --file "$userdata" single --name runcmd --frequency always >> "$work/ci.log" 2>&1 \
  && echo "step: runcmd module ok"
for s in /var/lib/cloud/instances/*/scripts/runcmd; do
  sh "$s" > "$work/runcmd.out" 2>&1
  echo "step: runcmd exit $?"
  sed 's/^/runcmd: /' "$work/runcmd.out"
done
wait_reloaded "$log" "$before" && echo "step: reloaded by cloud-init"
calls "cloud-init"
echo "step: info cloud-init: $(api "$sock" info)"
pull "after cloud-init"
cp /etc/docker/daemon.json "$work/daemon-cloud-init.json"
for s in /var/lib/cloud/instances/*/scripts/runcmd; do
  sh "$s" > "$work/runcmd2.out" 2>&1
  echo "step: runcmd again exit $?"
  sed 's/^/runcmd again: /' "$work/runcmd2.out"
done
calls "runcmd again"

# 3. The installer, with dash, on the seed again.
cp "$work/seed.json" /etc/docker/daemon.json
rm -f /etc/docker/daemon.json.bak /etc/docker/regtrust-managed.json
before=$(reloads)
kill -HUP "$dockerd_pid"
wait_reloaded "$log" "$before" && echo "step: seed reloaded"
pull "seed again"
before=$(reloads)
dash "$installer" > "$work/installer.out" 2>&1
echo "step: installer exit $?"
sed 's/^/installer: /' "$work/installer.out"
wait_reloaded "$log" "$before" && echo "step: reloaded by the installer"
calls "installer"
pull "after the installer"
cp /etc/docker/daemon.json "$work/daemon-installer.json"
dash "$installer" > "$work/installer2.out" 2>&1
echo "step: installer again exit $?"
sed 's/^/installer again: /' "$work/installer2.out"
calls "installer again"

# 4. apply with a spec without the registry: regtrust's entry goes (its record says it added it).
"$regtrust" apply --spec "$spec_empty" --runtime docker > "$work/apply.out" 2>&1
echo "step: apply exit $?"
sed 's/^/apply: /' "$work/apply.out"
before=$(reloads)
kill -HUP "$dockerd_pid"
wait_reloaded "$log" "$before" && echo "step: reloaded after apply"
echo "step: info after apply: $(api "$sock" info)"
pull "after apply"
