#!/usr/bin/env bash
# Builds the Debian 12 guest for the first-boot tests: debootstrap (minbase + kernel, systemd,
# cloud-init, containerd 1.6, docker-registry, python3-grpcio), a plain-HTTP registry inside the
# guest on 127.0.0.2:5000 named my.private.registry and preloaded with a test image, and a probe
# unit that pulls through CRI after cloud-final and reports on the serial console.
#
# usage: build-image.sh OUT_DIR   (writes OUT_DIR/root, vmlinuz, initrd.img, base.raw)
# Needs root, debootstrap, e2fsprogs, docker-registry and skopeo on the host.
set -euo pipefail
out=$1
here=$(cd "$(dirname "$0")" && pwd)
cache=${REGTRUST_E2E_CACHE:-/var/cache/regtrust-e2e}
mirror=$(cat "$cache/debian-mirror")
root=$out/root
rm -rf "$out"
mkdir -p "$out"

packages=systemd-sysv,udev,linux-image-amd64,initramfs-tools,cloud-init,containerd,docker-registry
packages=$packages,python3-grpcio,python3-cffi-backend,iproute2,netbase,ca-certificates
debootstrap --variant=minbase --include="$packages" bookworm "$root" "$mirror" > "$out/debootstrap.log" 2>&1 \
  || { tail -20 "$out/debootstrap.log" >&2; exit 1; }

echo node > "$root/etc/hostname"
cat > "$root/etc/hosts" <<'HOSTS'
127.0.0.1 localhost node
127.0.0.2 my.private.registry other.private.registry
HOSTS
echo '/dev/vda / ext4 defaults 0 1' > "$root/etc/fstab"
: > "$root/etc/machine-id"
cat > "$root/etc/cloud/cloud.cfg.d/90-regtrust-test.cfg" <<'CFG'
datasource_list: [NoCloud, None]
CFG

# The guest's plain-HTTP registry, on a loopback address under a non-localhost name.
cat > "$root/etc/docker/registry/config.yml" <<'REG'
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: 127.0.0.2:5000
REG

# Preload it: a registry on the host serves the guest's storage directory while skopeo pushes.
mkdir -p "$root/var/lib/docker-registry"
cat > "$out/preload.yml" <<REG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $root/var/lib/docker-registry
http:
  addr: 127.0.0.120:5000
REG
docker-registry serve "$out/preload.yml" > "$out/preload.log" 2>&1 &
reg=$!
trap 'kill $reg 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  (echo > /dev/tcp/127.0.0.120/5000) 2>/dev/null && break
  sleep 0.1
done
/usr/bin/python3 "$here/../e2e/make_oci_image.py" "$out/oci" latest "hello from the first boot"
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$out/oci:latest" \
  docker://127.0.0.120:5000/demo/hello:latest
kill $reg
wait $reg 2>/dev/null || true
trap - EXIT
chroot "$root" chown -R docker-registry:docker-registry /var/lib/docker-registry

# The probe: after cloud-final (WantedBy cloud-init.target: multi-user.target would be a cycle).
mkdir -p "$root/usr/local/lib/regtrust-probe"
install -m 0755 "$here/probe.sh" "$root/usr/local/lib/regtrust-probe/probe.sh"
install -m 0644 "$here/../e2e/cri_pull.py" "$root/usr/local/lib/regtrust-probe/cri_pull.py"
cat > "$root/etc/systemd/system/regtrust-probe.service" <<'UNIT'
[Unit]
Description=regtrust first-boot probe: CRI pull from the plain-HTTP registry
After=cloud-final.service containerd.service docker-registry.service
Wants=containerd.service docker-registry.service

[Service]
Type=oneshot
ExecStart=/usr/local/lib/regtrust-probe/probe.sh
StandardOutput=journal+console

[Install]
WantedBy=cloud-init.target
UNIT
mkdir -p "$root/etc/systemd/system/cloud-init.target.wants"
ln -sf /etc/systemd/system/regtrust-probe.service "$root/etc/systemd/system/cloud-init.target.wants/regtrust-probe.service"
# Nothing in the guest waits for a network it does not have.
chroot "$root" systemctl mask systemd-networkd-wait-online.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true

cp "$(ls "$root"/boot/vmlinuz-* | tail -1)" "$out/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | tail -1)" "$out/initrd.img"
chmod 0644 "$out/vmlinuz" "$out/initrd.img"
echo "built $out"
