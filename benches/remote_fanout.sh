#!/usr/bin/env bash
# Benchmark: `rune run --nodes` fanning one no-op action out to 20 nodes over
# OpenSSH, against the floor (the same 20 requests sent by ssh itself, ten at a
# time, from xargs -P10) and against Ansible (`ansible -m shell`, forks 10).
#
# The "nodes" are 20 loopback addresses (127.0.0.1 ... 127.0.0.20) of one sshd
# started here on a free port, each its own ssh_config alias, so each has its own
# multiplexed connection (ControlMaster, ControlPersist) as real nodes would.
# Every contender uses multiplexing and is run once before timing, so all time a
# warm run: connections open, rune's plugin bundle already in the node's cache.
# First-run shipping is timed separately (the node cache emptied before each run).
#
#   cargo build --release && benches/remote_fanout.sh setup DIR   # files + sshd
#   benches/remote_fanout.sh commands DIR                          # print the commands
#   benches/remote_fanout.sh time DIR [RUNS]                       # time them (bash `time`)
#   benches/remote_fanout.sh stop DIR                              # stop sshd
#
# The printed commands are plain argv (no shell needed), for any timer that runs
# two commands in turn (hyperfine -N, /usr/bin/time -v, ...).
set -euo pipefail

RUNE=${RUNE:-$(pwd)/target/release/rune}
NODES=${NODES:-20}
cmd=${1:?setup|commands|time|stop}
dir=${2:?DIR}

setup() {
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  cd "$dir"
  rm -rf ./* && mkdir -p run acp cache
  chmod 700 run acp
  for k in host_key client_key; do ssh-keygen -q -t ed25519 -N "" -f "$k"; done
  cp client_key.pub authorized_keys
  mkdir -p /run/sshd
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # One sshd listens on at most 16 addresses (OpenSSH's MAX_LISTEN_SOCKS): one
  # sshd per 16 nodes, all on the same port.
  for chunk in $(seq 0 $(( (NODES - 1) / 16 ))); do
  {
    for k in $(seq $(( chunk * 16 + 1 )) $(( chunk * 16 + 16 ))); do
      if [ "$k" -le "$NODES" ]; then echo "ListenAddress 127.0.0.$k:$port"; fi
    done
    cat <<EOF
HostKey $dir/host_key
AuthorizedKeysFile $dir/authorized_keys
PidFile $dir/sshd.$chunk.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
MaxStartups 200:30:400
MaxSessions 200
LogLevel ERROR
SetEnv XDG_CACHE_HOME=$dir/cache
EOF
  } >"sshd_config.$chunk"
  done
  hk=$(cut -d' ' -f1,2 host_key.pub)
  : >known_hosts
  : >ssh_config
  : >inventory.ini
  echo "nodes:" >inventory.yaml
  echo "[fleet]" >inventory.ini
  for k in $(seq "$NODES"); do
    echo "[127.0.0.$k]:$port $hk" >>known_hosts
    printf 'Host n%s\n  HostName 127.0.0.%s\n  Port %s\n  User %s\n  IdentityFile %s/client_key\n  IdentitiesOnly yes\n  UserKnownHostsFile %s/known_hosts\n  StrictHostKeyChecking yes\n' \
      "$k" "$k" "$port" "$(id -un)" "$dir" "$dir" >>ssh_config
    printf '  n%s: { host: n%s, ssh_config: %s/ssh_config }\n' "$k" "$k" "$dir" >>inventory.yaml
    echo "n$k" >>inventory.ini
    echo "n$k" >>aliases
  done
  cat >noop.sh <<'PLUGIN'
#!/bin/sh
# A no-op BPCS plugin: read the request, answer success at once.
cat >/dev/null
printf '%s\n' '{"payload":{"result":"success","output_data":{}},"error":null}'
PLUGIN
  chmod +x noop.sh
  cat >catalog.yaml <<'CATALOG'
catalog_version: "1"
modules:
  - module_identity:
      module_name: bench
      module_class: Bench
      module_type: plugin_host
      module_version: 1.0.0
      description: One no-op action
    capability_declaration:
      actions:
        - action: noop
          description: Does nothing
          category: diagnostic
          impact: low
          exec: ["./noop.sh"]
CATALOG
  # The request rune sends, for the floor to send too (captured from a local run).
  "$RUNE" run noop --catalog catalog.yaml --journal journal.jsonl >/dev/null
  python3 - <<'PY'
import json
for line in open("journal.jsonl"):
    e = json.loads(line)
    if e.get("event") == "message" and e.get("direction") == "request":
        open("request.json", "w").write(json.dumps(e["message"]) + "\n")
        break
PY
  # One request by ssh: what the floor runs per node (the plugin at the path rune
  # shipped it to, the request on stdin, multiplexed like rune).
  cat >floor-one.sh <<EOF
#!/bin/sh
exec ssh -F $dir/ssh_config -o BatchMode=yes -o ControlMaster=auto -o ControlPath=$dir/run/floor-%C -o ControlPersist=60 -T "\$1" "\$(cat $dir/bundle-path)" <$dir/request.json >/dev/null
EOF
  chmod +x floor-one.sh
  cat >ansible.cfg <<EOF
[defaults]
inventory = $dir/inventory.ini
forks = 10
gathering = explicit
interpreter_python = /usr/bin/python3
[ssh_connection]
ssh_args = -F $dir/ssh_config -o BatchMode=yes -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = $dir/acp
pipelining = True
EOF
  for config in "$dir"/sshd_config.*; do /usr/sbin/sshd -f "$config"; done
  sleep 0.5
  # Warm every contender: masters open, the bundle shipped.
  XDG_RUNTIME_DIR="$dir/run" "$RUNE" run noop --catalog catalog.yaml --inventory inventory.yaml --nodes all --json >first.jsonl
  python3 -c 'import json,sys; d=[json.loads(l) for l in open("first.jsonl")]; assert all(x["outcome"]=="succeeded" for x in d), d; print(len(d), "nodes ok")'
  ls -d "$dir"/cache/rune/ship/*/ | head -1 | sed 's#/$#/noop.sh#' >bundle-path
  xargs -P10 -n1 ./floor-one.sh <aliases
  ANSIBLE_CONFIG="$dir/ansible.cfg" ansible all -m shell -a "$(cat bundle-path) </dev/null" >/dev/null
}

commands() {
  dir=$(cd "$dir" && pwd)
  echo "rune:    env XDG_RUNTIME_DIR=$dir/run $RUNE run noop --catalog $dir/catalog.yaml --inventory $dir/inventory.yaml --nodes all --forks 10 --json"
  echo "floor:   xargs -P10 -n1 -a $dir/aliases $dir/floor-one.sh"
  echo "ansible: env ANSIBLE_CONFIG=$dir/ansible.cfg ansible all -m shell -a '$(cat "$dir/bundle-path") </dev/null'"
  echo "first:   sh -c 'rm -rf $dir/cache/rune && exec env XDG_RUNTIME_DIR=$dir/run $RUNE run noop --catalog $dir/catalog.yaml --inventory $dir/inventory.yaml --nodes all --forks 10 --json'"
}

timeit() {
  dir=$(cd "$dir" && pwd)
  runs=${1:-5}
  for i in $(seq "$runs"); do
    for what in rune floor ansible; do
      start=$(date +%s.%N)
      case $what in
        rune) XDG_RUNTIME_DIR="$dir/run" "$RUNE" run noop --catalog "$dir/catalog.yaml" --inventory "$dir/inventory.yaml" --nodes all --forks 10 --json >/dev/null 2>&1 ;;
        floor) xargs -P10 -n1 -a "$dir/aliases" "$dir/floor-one.sh" ;;
        ansible) ANSIBLE_CONFIG="$dir/ansible.cfg" ansible all -m shell -a "$(cat "$dir/bundle-path") </dev/null" >/dev/null ;;
      esac
      echo "$i $what $(echo "$(date +%s.%N) - $start" | bc)"
    done
  done
}

case $cmd in
  setup) setup ;;
  commands) commands ;;
  time) timeit "${3:-5}" ;;
  stop) for pid in "$dir"/sshd.*.pid; do kill "$(cat "$pid")"; done ;;
  *) echo "setup|commands|time|stop" >&2; exit 2 ;;
esac
