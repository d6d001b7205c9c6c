#!/usr/bin/env bash
# dav-instance.sh: a throwaway, self-contained Radicale (CalDAV + CardDAV) server for tests,
# benchmarks and the sample, the way dovecot-instance.sh is for mail.
#
# Everything lives under DIR: the config file, the htpasswd file (plain passwords), the
# collections (filesystem storage), the log and the pid file. Nothing is read from
# /etc/radicale or ~/.config/radicale. It listens on 127.0.0.1 only (plain HTTP, no TLS:
# tests/it/support/tls_front.rs can front it), so several instances can run at once.
#
#   dav-instance.sh start NAME PORT|auto DIR [options]  start (or report the running instance)
#   dav-instance.sh stop DIR                           stop it; a no-op when it is not running
#   dav-instance.sh destroy DIR                        stop, then delete DIR (only one made here)
#   dav-instance.sh status DIR                         print the instance line; exit 1 if down
#   dav-instance.sh add-user DIR USER PASS             add or change a login (read at each login)
#
# start options:
#   --user U:P        a login (repeatable; default alice:alice-pw and bob:bob-pw)
#   --max-conn N      parallel connections Radicale serves (default 32; Radicale's own is 8)
#   --auth-delay S    seconds Radicale waits before answering a failed login (default 0;
#                     Radicale's own default is 1)
#   --timeout S       seconds to wait for the server to answer (default 30, or $DAV_START_TIMEOUT)
#   --debug           Radicale's debug log (every request and answer, passwords masked)
#
# PORT "auto" picks a free port; if another process takes it before Radicale binds, start
# retries with a new one (3 attempts). A given PORT that is in use is an error naming it.
#
# Rights are Radicale's owner_only: a user reads and writes only below /USER/ (its principal,
# created at its first login) and sees nothing of the others. Radicale does not implement
# scheduling (RFC 6638): it never sends an invitation and stores ORGANIZER/ATTENDEE as given.
#
# Output of start/status, one line, KEY=VALUE, easy to parse:
#   name=dav pid=1234 port=5232 url=http://127.0.0.1:5232 dir=/tmp/x conf=/tmp/x/config
#     log=/tmp/x/log/radicale.log collections=/tmp/x/collections
# The same line is kept in DIR/instance.env.
set -euo pipefail

PYTHON=${DAV_PYTHON:-/usr/bin/python3}   # the interpreter that can import radicale (Debian's)
PROG=${0##*/}

die() { echo "$PROG: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

abs_dir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

free_port() {
  "$PYTHON" -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

port_free() {  # whether 127.0.0.1:$1 can be bound now
  "$PYTHON" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try: s.bind(("127.0.0.1",int(sys.argv[1])))
except OSError: sys.exit(1)
finally: s.close()' "$1"
}

# The pid in DIR/radicale.pid, if that process is alive and is the Radicale of this DIR (a
# stale pid file, or a pid reused by another program, does not count).
running_pid() {
  local dir=$1 pid
  [[ -f $dir/radicale.pid ]] || return 1
  pid=$(<"$dir/radicale.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "-m radicale --config $dir/config" || return 1
  echo "$pid"
}

# Wait until the server answers an authenticated PROPFIND on the first user's principal with
# 207 (this proves the config, the htpasswd file and the storage are usable, not just that the
# port is open). Fails early when the process exits.
wait_ready() {
  "$PYTHON" - "$1" "$2" "$3" "$4" <<'PY'
import base64, http.client, os, sys, time
port, users, pid, timeout = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
user, _, pw = open(users).readline().rstrip("\n").partition(":")
auth = "Basic " + base64.b64encode(("%s:%s" % (user, pw)).encode()).decode()
end = time.time() + timeout
last = "no answer"
while True:
    try:  # gone, or a zombie (it is our shell's child, reaped only after this check)
        with open("/proc/%d/stat" % pid) as f:
            dead = f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except OSError:
        dead = True
    if dead:
        sys.exit("radicale (pid %d) exited during start" % pid)
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("PROPFIND", "/%s/" % user, body=b"", headers={"Authorization": auth, "Depth": "0"})
        r = c.getresponse()
        r.read()
        c.close()
        if r.status == 207:
            break
        last = "HTTP %d" % r.status
    except OSError as e:
        last = str(e)
    if time.time() > end:
        sys.exit("no 207 to PROPFIND /%s/ on 127.0.0.1:%d within %g s (last: %s)" % (user, port, timeout, last))
    time.sleep(0.05)
PY
}

add_user_line() {  # dir user pass
  local dir=$1 user=$2 pass=$3
  [[ $user =~ ^[A-Za-z0-9._@+-]+$ ]] || die "bad user name: $user"
  [[ -n $pass && $pass != *:* && $pass != *$'\n'* ]] || die "password must be non-empty, without ':' or newline"
  if [[ -f $dir/users ]] && grep -q "^${user}:" "$dir/users"; then
    sed -i "/^${user}:/d" "$dir/users"
  fi
  printf '%s:%s\n' "$user" "$pass" >>"$dir/users"
  chmod 600 "$dir/users"
}

write_conf() {
  local dir=$1 name=$2 port=$3 maxconn=$4 delay=$5 level=$6
  cat >"$dir/config" <<EOF
# Generated by dav-instance.sh for instance '$name'. Throwaway: do not edit.
[server]
hosts = 127.0.0.1:$port
max_connections = $maxconn
timeout = 30
ssl = False

[encoding]
request = utf-8
stock = utf-8

[auth]
type = htpasswd
htpasswd_filename = $dir/users
htpasswd_encryption = plain
delay = $delay

[rights]
type = owner_only

[storage]
type = multifilesystem
filesystem_folder = $dir/collections

[web]
type = none

[logging]
level = $level
mask_passwords = True
EOF
}

cmd_start() {
  [[ $# -ge 3 ]] || usage
  local name=$1 port=$2 dir_arg=$3; shift 3
  local maxconn=32 delay=0 level=info timeout=${DAV_START_TIMEOUT:-30}
  local -a users=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --user) [[ $# -ge 2 ]] || die "--user needs U:P"; users+=("$2"); shift 2 ;;
      --max-conn) maxconn=$2; shift 2 ;;
      --auth-delay) delay=$2; shift 2 ;;
      --timeout) timeout=$2; shift 2 ;;
      --debug) level=debug; shift ;;
      *) die "unknown option: $1" ;;
    esac
  done
  [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME must be [A-Za-z0-9_-]+"
  [[ $maxconn =~ ^[1-9][0-9]*$ ]] || die "--max-conn must be a positive number"
  [[ $delay =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--auth-delay must be a number of seconds"
  [[ $timeout =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--timeout must be a number of seconds"
  [[ -x $PYTHON ]] || die "$PYTHON not found"
  "$PYTHON" -c 'import radicale' 2>/dev/null \
    || die "$PYTHON cannot import radicale (apt-get install -y radicale; or scripts/ensure-deps.sh)"
  local dir; dir=$(abs_dir "$dir_arg")
  [[ $dir != / ]] || die "DIR must not be /"

  local pid
  if pid=$(running_pid "$dir"); then
    cat "$dir/instance.env"
    return 0
  fi
  rm -f "$dir/radicale.pid"   # stale

  local auto=0
  if [[ $port == auto ]]; then auto=1; else
    [[ $port =~ ^[0-9]+$ ]] && ((port > 0 && port < 65536)) || die "PORT must be a number (1-65535) or auto"
    port_free "$port" || die "port $port on 127.0.0.1 is in use (by another program); use another or auto"
  fi

  mkdir -p "$dir"/{collections,log}
  : >"$dir/.dav-instance"   # marker: destroy only removes directories carrying it
  if [[ ${#users[@]} -eq 0 && ! -s $dir/users ]]; then
    users=(alice:alice-pw bob:bob-pw)
  fi
  local u un up
  for u in "${users[@]}"; do
    un=${u%%:*}; up=${u#*:}
    [[ $u == *:* ]] || die "--user must be U:P, got: $u"
    add_user_line "$dir" "$un" "$up"
  done
  [[ -s $dir/users ]] || die "no users"

  local log=$dir/log/radicale.log attempt
  for attempt in 1 2 3; do
    [[ $auto == 1 ]] && port=$(free_port)
    write_conf "$dir" "$name" "$port" "$maxconn" "$delay" "$level"
    echo "--- $(date -u +%FT%TZ) start $name on 127.0.0.1:$port (attempt $attempt)" >>"$log"
    # A session of its own (not killed with the caller's terminal or process group), its pid
    # kept by exec; no fd of the caller is inherited (a caller reading our stdout to EOF,
    # such as Rust's Command::output, must not wait for the server).
    "$PYTHON" -c 'import os, sys
os.setsid()
os.execv(sys.argv[1], [sys.argv[1], "-m", "radicale", "--config", sys.argv[2]])' \
      "$PYTHON" "$dir/config" </dev/null >>"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/radicale.pid"
    if wait_ready "$port" "$dir/users" "$pid" "$timeout" 2>>"$log"; then
      break
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$dir/radicale.pid"
    if [[ $auto == 1 ]] && tail -n 30 "$log" | grep -q "Address already in use"; then
      continue   # lost the race for the free port: pick another
    fi
    tail -n 20 "$log" >&2
    die "instance $name in $dir did not become ready (log above, full log $log)"
  done
  running_pid "$dir" >/dev/null || { tail -n 20 "$log" >&2; die "could not start $name (ports taken 3 times?)"; }
  echo "name=$name pid=$pid port=$port url=http://127.0.0.1:$port dir=$dir conf=$dir/config" \
    "log=$log collections=$dir/collections" >"$dir/instance.env"
  cat "$dir/instance.env"
}

cmd_stop() {
  [[ $# -ge 1 ]] || usage
  local dir=${!#}   # last argument, so "stop NAME PORT DIR" works as well
  [[ -d $dir ]] || return 0
  dir=$(cd "$dir" && pwd -P)
  local pid i
  if pid=$(running_pid "$dir"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    echo "stopped pid=$pid dir=$dir"
  fi
  rm -f "$dir/radicale.pid"
}

cmd_destroy() {
  [[ $# -ge 1 ]] || usage
  local dir=${!#}
  [[ -d $dir ]] || return 0
  [[ -e $dir/.dav-instance ]] || die "$dir was not made by $PROG; not deleting it"
  cmd_stop "$dir"
  rm -rf -- "$dir"
}

cmd_status() {
  [[ $# -ge 1 ]] || usage
  local dir=${!#}
  [[ -d $dir ]] || exit 1
  dir=$(cd "$dir" && pwd -P)
  if running_pid "$dir" >/dev/null; then cat "$dir/instance.env"; else echo "down dir=$dir"; exit 1; fi
}

cmd_add_user() {
  [[ $# -ge 3 ]] || usage
  local dir=$1
  [[ -f $dir/config ]] || die "$dir is not an instance directory"
  add_user_line "$dir" "$2" "$3"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  destroy) shift; cmd_destroy "$@" ;;
  status) shift; cmd_status "$@" ;;
  add-user) shift; cmd_add_user "$@" ;;
  *) usage ;;
esac
