# Shared by tests/e2e/docker_pull.sh, docker_boot.sh and docker_store.sh (sourced, bash):
# registries and dockerd inside the caller's private network and mount namespace. The caller
# sets `work`, and `here` (this directory); `pids` collects the registries' process ids,
# `dockerd_pid` dockerd's.
pids=()
dockerd_pid=
api() { python3 "$here/engine_api.py" "$@"; }

registry() { # name addr [extra http/auth config]
  mkdir -p "$work/$1"
  cat > "$work/$1/config.yml" <<CFG
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/$1/data
http:
  addr: $2
$3
CFG
  docker-registry serve "$work/$1/config.yml" > "$work/$1/registry.log" 2>&1 &
  pids+=("$!")
}

cleanup() {
  [ -n "$dockerd_pid" ] && kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null
  kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
}

# start_dockerd DOCKERD SOCK LOG DATA EXEC PIDFILE [STORAGE_DRIVER]: started (its output
# appended to LOG; storage driver vfs unless given) and answering /_ping (a SIGHUP before dockerd
# has installed its handler kills it), or `false`.
start_dockerd() {
  "$1" --data-root "$4" --exec-root "$5" --pidfile "$6" -H "unix://$2" --bridge=none \
    --iptables=false --ip6tables=false --storage-driver "${7:-vfs}" >> "$3" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 300); do
    [ "$(api "$2" ping)" = OK ] && break
    kill -0 "$dockerd_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ "$(api "$2" ping)" = OK ]
}

# wait_reloaded LOG BEFORE: true once dockerd's log has more `Reloaded configuration` lines
# than BEFORE (waits up to 5 s).
wait_reloaded() {
  for _ in $(seq 50); do
    [ "$(grep -c 'Reloaded configuration' "$1")" -gt "$2" ] && return 0
    sleep 0.1
  done
  return 1
}
