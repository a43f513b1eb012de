#!/bin/sh
# Runs in the guest after cloud-final: pulls the test image through CRI and reports on the
# serial console, then powers the VM off.
report() { printf 'REGTRUST-PROBE: %s\n' "$*" > /dev/ttyS0; printf 'REGTRUST-PROBE: %s\n' "$*"; }
sock=/run/containerd/containerd.sock
i=0
while [ ! -S "$sock" ] && [ "$i" -lt 120 ]; do sleep 1; i=$((i + 1)); done
i=0
until python3 -c 'import socket; socket.create_connection(("my.private.registry", 5000), 2)' 2>/dev/null || [ "$i" -ge 60 ]; do
  sleep 1; i=$((i + 1))
done
report "config_path: $(grep -h config_path /etc/containerd/config.toml 2>/dev/null | tr -d ' ' | tr '\n' ' ')"
report "hosts: $(ls /etc/containerd/certs.d 2>/dev/null | tr '\n' ' ')"
# The registry the spec names, then the same registry under a name the spec does not name (the
# negative control in the same boot: it must fail over HTTPS).
for registry in my.private.registry:5000 other.private.registry:5000; do
  out=$(python3 /usr/local/lib/regtrust-probe/cri_pull.py "$sock" "$registry/demo/hello:latest" 120 2>&1)
  report "$registry $out"
done
# A cloud-init guest: how often containerd started in this boot (systemd's own journal lines),
# what regtrust's runcmd script said; then the script runs again (as a re-run of runcmd would)
# and must change nothing and not restart containerd.
script=/usr/local/sbin/regtrust-containerd-config
starts() { journalctl -b -u containerd.service -o cat --no-pager | grep -c '^Started containerd'; }
if [ -x "$script" ]; then
  report "cloud-init run: containerd-starts=$(starts) said-restart=$(grep -c 'restarting containerd' /var/log/cloud-init-output.log)"
  sums() { sha256sum /etc/containerd/config.toml /etc/containerd/certs.d/*/hosts.toml 2>&1; }
  before=$(sums)
  pid=$(systemctl show -p MainPID --value containerd)
  "$script" > /tmp/regtrust-rerun.log 2>&1
  rc=$?
  after=$(sums)
  if [ "$before" = "$after" ]; then same=unchanged; else same=CHANGED; fi
  if [ "$pid" = "$(systemctl show -p MainPID --value containerd)" ]; then restart=not-restarted; else restart=RESTARTED; fi
  report "cloud-init rerun: rc=$rc files $same, containerd $restart, containerd-starts=$(starts)"
fi
# An Ignition-prepared guest: regtrust's unit — was it enabled (by systemd's first-boot presets),
# did it finish before containerd started, which file does containerd read; then the unit runs
# again, as on every later boot, and must change nothing and not restart containerd.
unit=regtrust-containerd-config.service
if [ -f /etc/systemd/system/$unit ]; then
  report "unit: enabled=$(systemctl is-enabled $unit 2>&1) result=$(systemctl show -p Result --value $unit)"
  report "order: unit-exit=$(systemctl show -p ExecMainExitTimestampMonotonic --value $unit) containerd-start=$(systemctl show -p ExecMainStartTimestampMonotonic --value containerd)"
  pid=$(systemctl show -p MainPID --value containerd)
  report "containerd: $(tr '\0' ' ' < "/proc/$pid/cmdline")"
  report "first run: $(journalctl -b -u $unit -o cat --no-pager | grep '^regtrust:' | tr '\n' ' ')"
  sums() { sha256sum /etc/containerd/config.toml /etc/containerd/certs.d/*/hosts.toml 2>&1; }
  before=$(sums)
  systemctl start $unit
  after=$(sums)
  if [ "$before" = "$after" ]; then same=unchanged; else same=CHANGED; fi
  if [ "$pid" = "$(systemctl show -p MainPID --value containerd)" ]; then restart=not-restarted; else restart=RESTARTED; fi
  report "second run: files $same, containerd $restart, result=$(systemctl show -p Result --value $unit)"
  report "second run said: $(journalctl -b -u $unit -o cat --no-pager | grep '^regtrust:' | tail -n 1)"
fi
report "DONE"
systemctl --no-block poweroff
