#!/usr/bin/env bash
# dovecot-instance.sh: a throwaway, self-contained Dovecot IMAP server for tests and benchmarks.
#
# Everything lives under DIR: config, TLS material, passwd-file, sockets (base_dir), state,
# log file and the Maildirs. Nothing is read from or written to /etc/dovecot or syslog. It
# listens on 127.0.0.1 only, so several instances (e.g. "src" and "dst") can run at once.
#
#   dovecot-instance.sh start NAME PORT DIR [options]   start (or report the running instance)
#   dovecot-instance.sh stop DIR                        stop it; a no-op when it is not running
#   dovecot-instance.sh destroy DIR                     stop, then delete DIR (only one made here)
#   dovecot-instance.sh status DIR                      print the instance line; exit 1 if down
#   dovecot-instance.sh add-user DIR USER PASS [EXTRA]  add a login (passwd-file reloads itself)
#   dovecot-instance.sh fix-perms DIR                   give DIR/mail to the mail uid (root mode,
#                                                       after writing Maildirs as root)
#
# start options:
#   --tls-port N      IMAPS port (default PORT+1). PORT may be "auto": both are picked free.
#   --user U:P[:X]    a login (repeatable; default alice:alice-pw and bob:bob-pw). X = extra
#                     passwd-file fields, e.g. userdb_quota_rule=*:storage=5M
#   --layout L        fs (default: Maildir/Folder/Sub/{cur,new,tmp}, '.' allowed in names)
#                     or maildir++ (Maildir/.Folder.Sub/, Dovecot's classic default)
#   --quota SIZE      enable the quota plugin with this per-user storage limit (e.g. 50M);
#                     a full mailbox answers NO [OVERQUOTA] to APPEND
#   --max-conn N      mail_max_userip_connections (default 100; Dovecot's own default is 10)
#   --fsync MODE      mail_fsync: optimized (Dovecot default), always or never
#   --no-gmail        no "[Gmail]/..." special-use mailboxes (see below)
#   --pop3-port N     also serve POP3 (plain, 127.0.0.1:N; N may be auto); RETR marks mail
#                     seen as Dovecot does by default, TOP does not
#   --mail-root DIR   serve the Maildir trees under DIR (one per user, DIR/<user>) instead of
#                     DIR/mail/<user>/Maildir: mail_location = maildir:DIR/%u:LAYOUT=fs, the
#                     line docs/endpoints/maildir.md documents for a cutover maildir endpoint
#                     (root mode: DIR is given to the mail uid, like DIR/mail)
#   --separator C     hierarchy separator of the inbox namespace (default /; e.g. . with maildir++)
#   --doveadm-port N  also listen for doveadm (dsync "tcp:127.0.0.1:N") on 127.0.0.1:N, with
#                     doveadm_password from DIR/doveadm.secret (made at first start); N may be auto
#   --debug           mail_debug and auth_debug on (verbose log)
#   --oauth2 URL      also accept AUTHENTICATE XOAUTH2 / OAUTHBEARER: passdb oauth2 checks each
#                     token with a POST to the RFC 7662 introspection endpoint URL (token=...);
#                     the answer must be active and name the login in "email"
#   --oauth2-scope S  with --oauth2: the token's "scope" must also include S
#   --auth-penalty    keep Dovecot's failed-login slowdown: 2 s per failure, plus an anvil
#                     penalty per IP that grows to 15 s and delays even correct logins from
#                     127.0.0.1. Default here: auth_failure_delay = 0 and the penalty off.
#
# Output of start/status, one line, KEY=VALUE, easy to parse:
#   name=src pid=1234 port=10143 tls_port=10144 dir=/tmp/x conf=/tmp/x/dovecot.conf
#     ca=/tmp/x/tls/ca.pem log=/tmp/x/log/dovecot.log mail_uid=65534 mode=root
# The same line is kept in DIR/instance.env. Admin: doveadm -c DIR/dovecot.conf ...
#
# Privileges. Dovecot refuses mail uid 0 and refuses to run imap-login as root.
#  - run as root: the master stays root and uses the packaged dovecot/dovenull users; mail is
#    owned by MAIL_USER (default nobody). DIR is made traversable (0711) and DIR/mail is
#    chowned to MAIL_USER at start. If you write Maildirs as root afterwards, run fix-perms.
#  - run as any other user: the whole server runs as that user (no setuid at all); mail uid =
#    that user. Example from root: runuser -u someuser -- dovecot-instance.sh start t 10143 DIR
#
# Special-use mailboxes come from namespace settings: Drafts (\Drafts), and Gmail-like
# "[Gmail]/All Mail" (\All), "[Gmail]/Sent Mail" (\Sent), "[Gmail]/Trash" (\Trash),
# "[Gmail]/Spam" (\Junk), "[Gmail]/Drafts" (\Drafts); only Drafts is auto-created.
set -euo pipefail

DOVECOT=${DOVECOT:-/usr/sbin/dovecot}
MAIL_USER=${MAIL_USER:-nobody}
PROG=${0##*/}

die() { echo "$PROG: $*" >&2; exit 1; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

abs_dir() { mkdir -p "$1" && (cd "$1" && pwd -P); }

free_port() {
  python3 -c 'import socket
s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# The pid in DIR/run/master.pid, if that process is alive and is a dovecot master.
running_pid() {
  local dir=$1 pid base
  base=$(base_of "$dir")
  [[ -f $base/master.pid ]] || return 1
  pid=$(<"$base/master.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == dovecot ]] || return 1
  echo "$pid"
}

# Wait for the IMAP greeting on 127.0.0.1:port, then prove that LOGIN works for the first
# passwd-file user (a greeting alone does not show that auth can read DIR/passwd).
wait_ready() {
  python3 - "$1" "$2" <<'PY'
import imaplib, socket, sys, time
port, passwd = int(sys.argv[1]), sys.argv[2]
user, _, rest = open(passwd).readline().partition(":")
pw = rest.split(":", 1)[0].removeprefix("{PLAIN}")
end = time.time() + 15
while True:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            if s.recv(200).startswith(b"* OK"):
                break
    except OSError:
        pass
    if time.time() > end:
        sys.exit("no IMAP greeting on 127.0.0.1:%d within 15 s" % port)
    time.sleep(0.05)
try:
    m = imaplib.IMAP4("127.0.0.1", port, timeout=10)
    m.login(user, pw)
    m.logout()
except Exception as e:
    sys.exit("LOGIN as %s failed: %s" % (user, e))
PY
}

# In root mode the auth process (user dovecot) and the mail processes (MAIL_USER) must be able
# to traverse every ancestor of DIR. mktemp -d makes 0700 directories, so add o+x (traverse,
# not read) to ancestors we own; refuse when someone else owns a closed one.
open_ancestors() {
  local p=$1 mode owner
  while [[ $p != / ]]; do
    mode=$(stat -c %a "$p"); owner=$(stat -c %u "$p")
    if (( (8#$mode & 1) == 0 )); then
      [[ $owner == "$(id -u)" ]] || die "$p (mode $mode, uid $owner) is not traversable by dovecot's users"
      chmod o+x "$p"
      echo "$PROG: note: chmod o+x $p so dovecot's unprivileged processes can reach $1" >&2
    fi
    p=$(dirname "$p")
  done
}

# Unix socket paths are limited to 107 bytes and Dovecot's longest socket under base_dir is
# "token-login/imap-urlauth" (24 bytes); Dovecot also resolves base_dir to its real path, so a
# symlink does not help. When DIR/run is too long (deep temp dirs such as target/tmp/...),
# base_dir moves to /tmp/dovecot-run-<hash of DIR>; destroy removes it.
short_base() {
  local dir=$1
  if (( ${#dir} + 4 + 1 + 24 <= 107 )); then echo "$dir/run"; return; fi
  echo "/tmp/dovecot-run-$(printf '%s' "$dir" | sha1sum | cut -c1-12)"
}

base_of() {  # the base_dir an instance directory was configured with
  local b=""
  [[ -f $1/dovecot.conf ]] && b=$(sed -n 's/^base_dir = //p' "$1/dovecot.conf")
  echo "${b:-$1/run}"
}

make_tls() {
  # A throwaway CA plus a server certificate for localhost / 127.0.0.1 signed by it.
  # (rustls/webpki rejects a CA:TRUE certificate used as the server certificate, so the
  # usual one-shot self-signed "req -x509" cert is not enough for a Rust client.)
  local t=$1/tls
  [[ -s $t/server.pem && -s $t/server.key && -s $t/ca.pem ]] && return 0
  mkdir -p "$t"
  (
    cd "$t"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=cutover test CA" -keyout ca.key -out ca.pem \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -subj "/CN=localhost" -keyout server.key -out server.csr
    printf '%s\n' 'basicConstraints=critical,CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' \
      'subjectAltName=DNS:localhost,IP:127.0.0.1' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile server.ext -out server.pem
    rm -f server.csr server.ext ca.srl
    chmod 644 ca.pem server.pem
  ) >/dev/null 2>&1 || die "openssl failed to make the test certificates in $t"
}

add_user_line() {  # dir user pass [extra]
  local dir=$1 user=$2 pass=$3 extra=${4:-}
  [[ $user =~ ^[A-Za-z0-9._@+-]+$ ]] || die "bad user name: $user"
  [[ $pass != *:* && $pass != *$'\n'* ]] || die "password must not contain ':' or newline"
  if [[ -f $dir/passwd ]] && grep -q "^${user}:" "$dir/passwd"; then
    sed -i "/^${user}:/d" "$dir/passwd"
  fi
  printf '%s:{PLAIN}%s::::::%s\n' "$user" "$pass" "$extra" >>"$dir/passwd"
}

write_conf() {
  local dir=$1 name=$2 port=$3 tls_port=$4 layout=$5 quota=$6 maxconn=$7 fsync=$8 gmail=$9
  local debug=${10} uid=${11} gid=${12} mode=${13} penalty=${14} base=${15} dport=${16} sep=${17:-/} pport=${18:-}
  local oauth2=${19:-} oscope=${20:-} mroot=${21:-}
  local loc="maildir:~/Maildir"
  [[ $layout == fs ]] && loc="maildir:~/Maildir:LAYOUT=fs"
  [[ -z $mroot ]] || loc="maildir:$mroot/%u:LAYOUT=fs"
  {
    echo "# Generated by dovecot-instance.sh for instance '$name'. Throwaway: do not edit."
    echo "instance_name = cutover-$name"
    echo "base_dir = $base"
    echo "state_dir = $dir/state"
    echo "log_path = $dir/log/dovecot.log"
    echo "info_log_path = $dir/log/dovecot.log"
    echo "debug_log_path = $dir/log/dovecot.log"
    if [[ -n $pport ]]; then
      echo "protocols = imap pop3"
      echo "pop3_uidl_format = %08Xu%08Xv"
    else
      echo "protocols = imap"
    fi
    echo "listen = 127.0.0.1"
    echo "ssl = yes"
    echo "ssl_cert = <$dir/tls/server.pem"
    echo "ssl_key = <$dir/tls/server.key"
    echo "disable_plaintext_auth = no"
    if [[ -n $oauth2 ]]; then
      echo "auth_mechanisms = plain login xoauth2 oauthbearer"
    else
      echo "auth_mechanisms = plain login"
    fi
    echo "mail_location = $loc"
    echo "mail_max_userip_connections = $maxconn"
    echo "mail_fsync = $fsync"
    # fcntl locks (Dovecot's default) make the kernel refuse a lock wait it takes for a
    # deadlock (EDEADLK) when several sessions of one user update the mailbox list index at
    # once, and Dovecot 2.3 panics on it ("Resource deadlock avoided": the session dies
    # mid-update). flock has no such detection: seen 0 panics in runs that gave 2-3 with fcntl.
    echo "lock_method = flock"
    echo "first_valid_uid = $uid"
    echo "first_valid_gid = $gid"
    if [[ $mode == user ]]; then
      # Rootless: every service runs as the invoking user; nothing may chroot or setuid.
      echo "default_internal_user = $(id -un)"
      echo "default_internal_group = $(id -gn)"
      echo "default_login_user = $(id -un)"
    fi
    if [[ $debug == 1 ]]; then echo "mail_debug = yes"; echo "auth_debug = yes"; fi
    [[ $penalty == 1 ]] || echo "auth_failure_delay = 0"
    if [[ -n $oauth2 ]]; then
      {
        echo "introspection_mode = post"
        echo "introspection_url = $oauth2"
        echo "username_attribute = email"
        echo "active_attribute = active"
        echo "active_value = true"
        [[ -z $oscope ]] || echo "scope = $oscope"
        if [[ $debug == 1 ]]; then echo "debug = yes"; fi
      } >"$dir/oauth2.conf.ext"
      chmod 644 "$dir/oauth2.conf.ext"
      cat <<EOF
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/oauth2.conf.ext
}
EOF
    fi
    cat <<EOF
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
}
userdb {
  driver = static
  args = uid=$uid gid=$gid home=$dir/mail/%u
}
namespace inbox {
  inbox = yes
  separator = $sep
  mailbox Drafts {
    special_use = \\Drafts
    auto = subscribe
  }
  mailbox Sent {
    special_use = \\Sent
  }
  mailbox Trash {
    special_use = \\Trash
  }
  mailbox Junk {
    special_use = \\Junk
  }
  mailbox Archive {
    special_use = \\Archive
  }
EOF
    if [[ $gmail == 1 ]]; then
      cat <<'EOF'
  mailbox "[Gmail]/All Mail" {
    special_use = \All
  }
  mailbox "[Gmail]/Sent Mail" {
    special_use = \Sent
  }
  mailbox "[Gmail]/Drafts" {
    special_use = \Drafts
  }
  mailbox "[Gmail]/Trash" {
    special_use = \Trash
  }
  mailbox "[Gmail]/Spam" {
    special_use = \Junk
  }
  mailbox "[Gmail]/Starred" {
    special_use = \Flagged
  }
EOF
    fi
    echo "}"
    if [[ -n $quota ]]; then
      cat <<EOF
mail_plugins = \$mail_plugins quota
plugin {
  quota = count:User quota
  quota_vsizes = yes
  quota_rule = *:storage=$quota
}
EOF
    fi
    # COMPRESS=DEFLATE (RFC 4978) is the imap_zlib plugin in Dovecot 2.3; offered on every
    # instance, used only by sessions that ask for it (compress = "on"; "auto" stays off on
    # loopback, so tests that match wire text see it uncompressed).
    echo "protocol imap {"
    echo "  mail_plugins = \$mail_plugins imap_zlib${quota:+ imap_quota}"
    echo "}"
    if [[ -n $dport ]]; then
      cat <<EOF
doveadm_password = $(cat "$dir/doveadm.secret")
service doveadm {
  inet_listener {
    address = 127.0.0.1
    port = $dport
  }
}
EOF
    fi
    if [[ -n $pport ]]; then
      cat <<EOF
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $pport
  }
  inet_listener pop3s {
    port = 0
  }
}
EOF
    fi
    cat <<EOF
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $tls_port
    ssl = yes
  }
}
service anvil {
  chroot =
}
EOF
  } >"$dir/dovecot.conf"
}

cmd_start() {
  [[ $# -ge 3 ]] || usage
  local name=$1 port=$2 dir_arg=$3; shift 3
  local tls_port="" layout=fs quota="" maxconn=100 fsync=optimized gmail=1 debug=0 penalty=0
  local dport="" sep=/ pport="" oauth2="" oscope="" mroot=""
  local -a users=()
  while [[ $# -gt 0 ]]; do
    case $1 in
      --tls-port) tls_port=$2; shift 2 ;;
      --user) users+=("$2"); shift 2 ;;
      --layout) layout=$2; shift 2 ;;
      --quota) quota=$2; shift 2 ;;
      --max-conn) maxconn=$2; shift 2 ;;
      --fsync) fsync=$2; shift 2 ;;
      --no-gmail) gmail=0; shift ;;
      --debug) debug=1; shift ;;
      --doveadm-port) dport=$2; shift 2 ;;
      --pop3-port) pport=$2; shift 2 ;;
      --separator) sep=$2; shift 2 ;;
      --mail-root) mroot=$(abs_dir "$2"); shift 2 ;;
      --oauth2) oauth2=$2; shift 2 ;;
      --oauth2-scope) oscope=$2; shift 2 ;;
      --auth-penalty) penalty=1; shift ;;
      *) die "unknown option: $1" ;;
    esac
  done
  [[ $name =~ ^[A-Za-z0-9_-]+$ ]] || die "NAME must be [A-Za-z0-9_-]+"
  [[ $layout == fs || $layout == maildir++ ]] || die "--layout must be fs or maildir++"
  [[ -x $DOVECOT ]] || die "$DOVECOT not found (apt-get install -y dovecot-imapd)"
  command -v openssl >/dev/null || die "openssl not found"
  local dir; dir=$(abs_dir "$dir_arg")
  [[ $dir != / ]] || die "DIR must not be /"

  local pid
  if pid=$(running_pid "$dir"); then
    cat "$dir/instance.env"
    return 0
  fi
  if [[ $port == auto ]]; then
    port=$(free_port)
    [[ -n $tls_port ]] || tls_port=$(free_port)
  fi
  [[ $port =~ ^[0-9]+$ ]] || die "PORT must be a number or auto"
  [[ -n $tls_port ]] || tls_port=$((port + 1))

  local mode uid gid
  if [[ $(id -u) == 0 ]]; then
    mode=root
    uid=$(id -u "$MAIL_USER") || die "MAIL_USER $MAIL_USER does not exist"
    gid=$(id -g "$MAIL_USER")
    id dovenull >/dev/null 2>&1 || die "user dovenull missing (is dovecot-core installed?)"
  else
    mode=user
    uid=$(id -u)
    gid=$(id -g)
  fi

  mkdir -p "$dir"/{run,state,log,mail}
  : >"$dir/.dovecot-instance"   # marker: destroy only removes directories carrying it
  make_tls "$dir"
  if [[ ${#users[@]} -eq 0 && ! -s $dir/passwd ]]; then
    users=(alice:alice-pw bob:bob-pw)
  fi
  local u
  for u in "${users[@]}"; do
    IFS=: read -r un up ux <<<"$u"
    add_user_line "$dir" "$un" "$up" "${ux:-}"
  done
  if [[ $dport == auto ]]; then dport=$(free_port); fi
  if [[ $pport == auto ]]; then pport=$(free_port); fi
  if [[ -n $dport && ! -s $dir/doveadm.secret ]]; then
    (umask 077; python3 -c 'import secrets; print(secrets.token_hex(16))' >"$dir/doveadm.secret")
  fi
  local base; base=$(short_base "$dir")
  mkdir -p "$base"
  write_conf "$dir" "$name" "$port" "$tls_port" "$layout" "$quota" "$maxconn" "$fsync" \
    "$gmail" "$debug" "$uid" "$gid" "$mode" "$penalty" "$base" "$dport" "$sep" "$pport" \
    "$oauth2" "$oscope" "$mroot"
  if [[ $mode == root ]]; then
    # The auth process (user dovecot) reads passwd; login/mail processes traverse DIR.
    open_ancestors "$dir"
    chmod 644 "$dir/passwd"
    chown -R "$uid:$gid" "$dir/mail"
    if [[ -n $mroot ]]; then open_ancestors "$mroot"; chown -R "$uid:$gid" "$mroot"; fi
  else
    chmod 600 "$dir/passwd"
  fi
  rm -f "$base/master.pid"
  "$DOVECOT" -c "$dir/dovecot.conf" 2>>"$dir/log/dovecot.log" \
    || { tail -n 20 "$dir/log/dovecot.log" >&2; die "dovecot failed to start (see above)"; }
  if [[ $penalty == 0 ]]; then
    # The auth process starts on the first login and connects to this socket; when it is
    # absent (ENOENT) Dovecot 2.3 silently disables the auth penalty. "mode = 0" on the
    # listener also disables it, but costs a 5 s connect retry and an error line.
    # (A reload re-creates the socket and brings the penalty back.)
    rm -f "$base/anvil-auth-penalty"
  fi
  if ! wait_ready "$port" "$dir/passwd"; then
    tail -n 20 "$dir/log/dovecot.log" >&2
    cmd_stop "$dir" >/dev/null 2>&1 || true
    die "instance $name in $dir did not become ready (log above)"
  fi
  pid=$(running_pid "$dir") || die "dovecot started but $base/master.pid is not a live dovecot"
  echo "name=$name pid=$pid port=$port tls_port=$tls_port dir=$dir conf=$dir/dovecot.conf" \
    "ca=$dir/tls/ca.pem log=$dir/log/dovecot.log mail_uid=$uid mail_gid=$gid mode=$mode layout=$layout" \
    "base_dir=$base${dport:+ doveadm_port=$dport}${pport:+ pop3_port=$pport}" \
    >"$dir/instance.env"
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
  rm -f "$(base_of "$dir")/master.pid"
}

cmd_destroy() {
  [[ $# -ge 1 ]] || usage
  local dir=${!#}
  [[ -d $dir ]] || return 0
  [[ -e $dir/.dovecot-instance ]] || die "$dir was not made by $PROG; not deleting it"
  dir=$(cd "$dir" && pwd -P)
  # Its data is deleted next, so no graceful stop (Dovecot's takes over 2 s, paid twice by
  # most tests): the master leads its own process group (it daemonizes with setsid), and
  # the whole group is killed at once.
  local pid i
  if pid=$(running_pid "$dir"); then
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.02
    done
  fi
  rm -f "$(base_of "$dir")/master.pid"
  local base; base=$(base_of "$dir")
  [[ $base == /tmp/dovecot-run-* ]] && rm -rf -- "$base"
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
  [[ -f $dir/dovecot.conf ]] || die "$dir is not an instance directory"
  add_user_line "$dir" "$2" "$3" "${4:-}"
}

cmd_fix_perms() {
  [[ $# -ge 1 ]] || usage
  local dir=$1 uid gid
  [[ -f $dir/instance.env ]] || die "$dir is not an instance directory"
  [[ $(id -u) == 0 ]] || return 0
  uid=$(sed -n 's/.* mail_uid=\([0-9]*\).*/\1/p' "$dir/instance.env")
  gid=$(sed -n 's/.* mail_gid=\([0-9]*\).*/\1/p' "$dir/instance.env")
  chown -R "$uid:$gid" "$dir/mail"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  destroy) shift; cmd_destroy "$@" ;;
  status) shift; cmd_status "$@" ;;
  add-user) shift; cmd_add_user "$@" ;;
  fix-perms) shift; cmd_fix_perms "$@" ;;
  *) usage ;;
esac
