#!/usr/bin/env bash
# peers.sh: run the peer migration tools on the same data, source Dovecot -> destination
# Dovecot over loopback, and print one table: wall time, msgs/s, MB/s, CPU of the tool and of
# both servers, and the destination's fidelity, for a full pass and for a second, no-op
# incremental pass.
#
#   peers.sh [--users N] [--per-user N] [--seed S] [--tools "cutover imapsync mbsync dsync dsynctcp naive"]
#            [--dst-fsync optimized|never] [--huge] [--tricky] [--fault SPEC] [--wan RTT_MS:MBIT]
#            [--keep] [--out FILE] [--rounds N]
#
# Needs: dovecot-imapd, time, python3; isync for mbsync; imapsync from $IMAPSYNC or PATH.
# Tools (each skipped with a note when missing):
#   cutover   $CUTOVER (path to the built binary): `cutover run PROJECT` with a generated project
#             file, all users in one batch, state kept between the full and the no-op pass.
#             CUTOVER_COMPRESS=auto|on|off sets both endpoints' compress (auto: these
#             loopback hosts stay uncompressed); CUTOVER_SPLIT=N sets split_folder_messages
#             (0: no folder split across connections); CUTOVER_WORKERS=N sets folder_workers
#             and each endpoint's max_connections to N per user.
#   imapsync  not packaged in Debian 12 (its Perl dependencies are; see
#             peers/README). Default options apart from --nolog/--tmpdir/--pidfile.
#   mbsync    one Channel per user, Far = source IMAP, Near = destination IMAP, Sync Pull,
#             Create Near, CopyArrivalDate yes, SyncState in the work dir.
#   dsync     doveadm backup -R -u USER imapc: with the destination's config: Dovecot's own
#             migration path (reads the source over IMAP, writes the destination's Maildir
#             directly, not over IMAP).
#   dsynctcp  doveadm backup -R -u USER tcp:127.0.0.1:PORT against the source's doveadm
#             listener: Dovecot-to-Dovecot replication, a ceiling (both ends Dovecot storage).
#   cutoverb  $CUTOVER_B, a second cutover binary run exactly like the first (old vs new build:
#             `--tools "cutover cutoverb" --rounds 5` alternates them on the same data and
#             prints the median wall time of each).
#   naive     naive-copy.py: one FETCH then one APPEND per message (imaplib), UID high-water
#             mark state saved at the end. The floor.
# Users are user1..userN (password pw-userN), seeded with seed-maildir.py --no-tricky so every
# tool can copy everything; --tricky seeds the tricky and nasty messages as well, and the
# fidelity columns then show what each tool leaves behind. The destination is wiped before
# each tool. Works as root or as any user.
#
# --fault SIDE:MODE:BYTES[:DIR] (SIDE src|dst, MODE cut|truncate, DIR down|up, default down):
# the first pass ("fault") goes through fault-proxy.py, which breaks the first connection to
# SIDE after BYTES; the second pass ("resume") runs clean, and the fidelity columns show what a
# broken-then-resumed migration left behind (e.g. dst:cut:20000 loses replies to APPENDs the
# server already committed: the in-doubt case). dsync writes the destination directly, so dst
# faults do not touch it.
#
# --wan RTT_MS:MBIT (e.g. 50:100): every pass reaches both servers through wan-proxy.py, which
# adds that round-trip time and limits each connection to that bandwidth (both directions), as if
# the tool ran on an admin machine across the internet from both systems. dsync writes the
# destination's files directly, so only its source side crosses the WAN.
#
# Everything lives in a mktemp -d work dir, removed at exit (--keep keeps it, servers stopped);
# every server and proxy this script starts is stopped at exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=2 PER_USER=5000 SEED=1 TOOLS="cutover imapsync mbsync dsync dsynctcp naive" DST_FSYNC=optimized
KEEP=0 HUGE="" OUT="" TRICKY=--no-tricky FAULT="" ROUNDS=1 WAN=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) USERS=$2; shift 2 ;;
    --per-user) PER_USER=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --dst-fsync) DST_FSYNC=$2; shift 2 ;;
    --huge) HUGE=--huge; shift ;;
    --tricky) TRICKY=--nasty; shift ;;
    --fault) FAULT=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --wan) WAN=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "peers.sh needs /usr/bin/time (apt-get install -y time)" >&2; exit 1; }
[[ -x /usr/sbin/dovecot ]] || { echo "peers.sh needs dovecot-imapd" >&2; exit 1; }

W=$(mktemp -d "${TMPDIR:-/tmp}/peers.XXXXXX")
INST="$HERE/../tests/support/dovecot-instance.sh"
PROXY_PIDS=()
stop_proxies() {
  local p
  for p in "${PROXY_PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  PROXY_PIDS=()
}
cleanup() {
  stop_proxies
  "$INST" stop "$W/src" >/dev/null 2>&1 || true
  "$INST" stop "$W/dst" >/dev/null 2>&1 || true
  if [[ $KEEP == 1 ]]; then echo "kept work dir $W" >&2; else rm -rf -- "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$W/logs"

calc() { awk "BEGIN{printf \"%.3f\", $1}"; }
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1/instance.env"; }
USER_ARGS=()
for ((i = 1; i <= USERS; i++)); do USER_ARGS+=(--user "user$i:pw-user$i"); done

"$INST" start src auto "$W/src" "${USER_ARGS[@]}" --doveadm-port auto >/dev/null
SP=$(field "$W/src" port)
SDP=$(field "$W/src" doveadm_port)
echo "# source: 127.0.0.1:$SP  users=$USERS x $PER_USER messages  seed=$SEED  dst mail_fsync=$DST_FSYNC"

# ---- seed the source straight into its Maildirs ----
seed_start=$(date +%s.%N)
for ((i = 1; i <= USERS; i++)); do
  python3 "$HERE/../tests/support/seed-maildir.py" --instance "$W/src" --user "user$i" -n "$PER_USER" \
    --seed "$((SEED + i))" $TRICKY $HUGE -q
done
seed_end=$(date +%s.%N)

# ---- warm the source: build its indexes and read every file once, so the first tool does
# not pay for what the later ones get for free ----
SRC_MSGS=0 SRC_BYTES=0
for ((i = 1; i <= USERS; i++)); do
  doveadm -c "$W/src/dovecot.conf" fetch -u "user$i" \
    'uid flags date.received size.virtual hdr.message-id hdr.received' mailbox '*' all >/dev/null
  read -r m b < <(doveadm -c "$W/src/dovecot.conf" mailbox status -u "user$i" 'messages vsize' '*' |
    awk '{for(i=1;i<=NF;i++){split($i,kv,"="); if(kv[1]=="messages")m+=kv[2]; if(kv[1]=="vsize")b+=kv[2]}} END{print m+0, b+0}')
  SRC_MSGS=$((SRC_MSGS + m)) SRC_BYTES=$((SRC_BYTES + b))
done
printf '# seeded %d messages, %.1f MB (CRLF size) in %.1f s\n' "$SRC_MSGS" \
  "$(calc "$SRC_BYTES / 1000000")" "$(calc "$seed_end - $seed_start")"

# CPU seconds (own + reaped children) of a dovecot master, i.e. of the whole server.
server_cpu() {
  local pid; pid=$(field "$1" pid)
  awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15+$16+$17)/hz}' "/proc/$pid/stat"
}

reset_dst() {
  "$INST" destroy "$W/dst" >/dev/null 2>&1 || true
  "$INST" start dst auto "$W/dst" "${USER_ARGS[@]}" --fsync "$DST_FSYNC" >/dev/null
  DP=$(field "$W/dst" port)
}

dst_count() {
  local total=0 i m
  for ((i = 1; i <= USERS; i++)); do
    m=$(doveadm -c "$W/dst/dovecot.conf" mailbox status -u "user$i" messages '*' 2>/dev/null |
      awk '{split($NF,kv,"="); s+=kv[2]} END{print s+0}')
    total=$((total + m))
  done
  echo "$total"
}

# Fidelity of the destination against the source, per user, from doveadm fetch on both sides.
# Messages are paired by (folder, Message-ID) (in date order within a key): miss/extra = only in
# src / only in dst; size/flags/date = paired messages whose RFC822.SIZE, flags (\Recent
# ignored) or INTERNALDATE differ. Same-size content changes are not detected.
fidelity() {
  local i side
  for ((i = 1; i <= USERS; i++)); do
    for side in src dst; do
      doveadm -c "$W/$side/dovecot.conf" -f tab fetch -u "user$i" \
        'mailbox size.virtual flags date.received hdr.message-id' all >"$W/fid-$side-$i.tsv" 2>/dev/null || true
    done
  done
  python3 - "$W" "$USERS" <<'PY'
import collections, sys
w, users = sys.argv[1], int(sys.argv[2])
miss = extra = sz = fl = dt = 0
for i in range(1, users + 1):
    side = {}
    for s in ("src", "dst"):
        rows = collections.defaultdict(list)
        with open("%s/fid-%s-%d.tsv" % (w, s, i), encoding="utf-8", errors="replace") as f:
            next(f, None)
            for line in f:
                c = line.rstrip("\n").split("\t")
                if len(c) < 5:
                    continue
                flags = " ".join(sorted(x for x in c[2].split() if x != "\\Recent"))
                rows[(c[0], c[4])].append((c[3], c[1], flags))
        side[s] = rows
    for k in set(side["src"]) | set(side["dst"]):
        a, b = sorted(side["src"].get(k, [])), sorted(side["dst"].get(k, []))
        miss += max(0, len(a) - len(b))
        extra += max(0, len(b) - len(a))
        for x, y in zip(a, b):
            dt += x[0] != y[0]
            sz += x[1] != y[1]
            fl += x[2] != y[2]
print("%d %d %d %d %d" % (miss, extra, sz, fl, dt))
PY
}

# ---- the tools: each is a function "run_TOOL PASS" that syncs every user ----
IMAPSYNC_BIN=${IMAPSYNC:-$(command -v imapsync || true)}
have_imapsync() { [[ -n $IMAPSYNC_BIN && -e $IMAPSYNC_BIN ]]; }
run_imapsync() {
  local i rc=0
  mkdir -p "$W/imapsync"
  for ((i = 1; i <= USERS; i++)); do
    (cd "$W/imapsync" && perl "$IMAPSYNC_BIN" \
      --host1 127.0.0.1 --port1 "$SP" --user1 "user$i" --password1 "pw-user$i" --nossl1 --notls1 \
      --host2 127.0.0.1 --port2 "$DP" --user2 "user$i" --password2 "pw-user$i" --nossl2 --notls2 \
      --nolog --noreleasecheck --tmpdir "$W/imapsync" --pidfile "$W/imapsync/pid-$i" \
      >"$W/logs/imapsync-user$i-$1.log" 2>&1) || rc=$?
  done
  return $rc
}

have_mbsync() { command -v mbsync >/dev/null; }
run_mbsync() {
  local i
  {
    for ((i = 1; i <= USERS; i++)); do
      mkdir -p "$W/mbsync-state/user$i"
      cat <<EOF
IMAPAccount src$i
Host 127.0.0.1
Port $SP
User user$i
Pass pw-user$i
SSLType None
AuthMechs LOGIN

IMAPStore src$i
Account src$i

IMAPAccount dst$i
Host 127.0.0.1
Port $DP
User user$i
Pass pw-user$i
SSLType None
AuthMechs LOGIN

IMAPStore dst$i
Account dst$i

Channel user$i
Far :src$i:
Near :dst$i:
Patterns *
Create Near
Remove None
Expunge None
Sync Pull
CopyArrivalDate yes
SyncState $W/mbsync-state/user$i/

EOF
    done >"$W/mbsyncrc"
  }
  mbsync -c "$W/mbsyncrc" -a >"$W/logs/mbsync-$1.log" 2>&1
}

have_dsync() { command -v doveadm >/dev/null; }
run_dsync() {
  local i rc=0
  for ((i = 1; i <= USERS; i++)); do
    doveadm -c "$W/dst/dovecot.conf" \
      -o imapc_host=127.0.0.1 -o imapc_port="$SP" -o imapc_user="user$i" \
      -o imapc_password="pw-user$i" -o imapc_ssl=no \
      -o imapc_features="rfc822.size fetch-headers" -o mail_prefetch_count=20 \
      backup -R -u "user$i" imapc: >"$W/logs/dsync-user$i-$1.log" 2>&1 || rc=$?
  done
  return $rc
}

# Dovecot-to-Dovecot replication over doveadm's TCP protocol: both ends are Dovecot storage,
# so this is the ceiling for Dovecot, not a migration path from other servers.
have_dsynctcp() { command -v doveadm >/dev/null; }
run_dsynctcp() {
  local i rc=0
  for ((i = 1; i <= USERS; i++)); do
    doveadm -c "$W/dst/dovecot.conf" -o doveadm_password="$(cat "$W/src/doveadm.secret")" \
      backup -R -u "user$i" "tcp:127.0.0.1:$SDP" >"$W/logs/dsynctcp-user$i-$1.log" 2>&1 || rc=$?
  done
  return $rc
}

have_naive() { true; }
run_naive() {
  local i rc=0
  for ((i = 1; i <= USERS; i++)); do
    python3 "$HERE/naive-copy.py" --src "127.0.0.1:$SP" --dst "127.0.0.1:$DP" --user "user$i" \
      --password "pw-user$i" --state "$W/naive-state-user$i.json" \
      >>"$W/logs/naive-$1.log" 2>&1 || rc=$?
  done
  return $rc
}

# cutover itself, when $CUTOVER names its binary (e.g. target/release/cutover): one project
# file with every user in one batch, state kept between the full and the no-op pass.
have_cutover() { [[ -n ${CUTOVER:-} && -x ${CUTOVER:-} ]]; }
run_cutover() {
  local i
  {
    # CUTOVER_SPLIT=N: split_folder_messages (0: every folder on one connection pair).
    printf '[project]\nname = "peers"\nstate = "%s/cutover-state.sqlite"\n' "$W"
    if [[ -n ${CUTOVER_SPLIT:-} ]]; then printf 'split_folder_messages = %s\n' "$CUTOVER_SPLIT"; fi
    # CUTOVER_WORKERS=N: folder_workers (connection pairs per mailbox), with each endpoint's
    # max_connections raised to N per user so that every mailbox gets them all.
    if [[ -n ${CUTOVER_WORKERS:-} ]]; then printf 'folder_workers = %s\n' "$CUTOVER_WORKERS"; fi
    printf '\n'
    # CUTOVER_COMPRESS=on: COMPRESS=DEFLATE on both links as on a real WAN ("auto", the
    # default, leaves these loopback hosts uncompressed).
    local conns=""
    if [[ -n ${CUTOVER_WORKERS:-} ]]; then conns=$(printf 'max_connections = %d\n' $((CUTOVER_WORKERS * USERS))); fi
    printf '[source]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\ncompress = "%s"\n%s\n' "$SP" "${CUTOVER_COMPRESS:-auto}" "$conns"
    printf '[destination]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\ncompress = "%s"\n%s\n' "$DP" "${CUTOVER_COMPRESS:-auto}" "$conns"
    for ((i = 1; i <= USERS; i++)); do
      printf '[[mailbox]]\nbatch = "all"\nsource = { user = "user%d", password = "pw-user%d" }\n' "$i" "$i"
      printf 'destination = { user = "user%d", password = "pw-user%d" }\n\n' "$i" "$i"
    done
  } >"$W/cutover.toml"
  "$CUTOVER" run "$W/cutover.toml" >"$W/logs/cutover-$1.log" 2>&1
}

have_cutoverb() { [[ -n ${CUTOVER_B:-} && -x ${CUTOVER_B:-} ]]; }
run_cutoverb() { CUTOVER=$CUTOVER_B run_cutover "$@"; }

# start_proxy NAME TARGET_PORT [fault-proxy args...] -> sets PROXY_PORT
start_proxy() {
  local name=$1 target=$2; shift 2
  python3 "$HERE/fault-proxy.py" --listen 127.0.0.1:0 --target "127.0.0.1:$target" "$@" \
    >"$W/proxy-$name.port" 2>>"$W/logs/proxy-$name.log" &
  PROXY_PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do
    [[ -s $W/proxy-$name.port ]] && break
    sleep 0.05
  done
  PROXY_PORT=$(sed -n 's/^port=//p' "$W/proxy-$name.port")
  [[ -n $PROXY_PORT ]] || { echo "fault-proxy did not start" >&2; exit 1; }
}

# With --fault: route this pass through proxies, the faulty one on the chosen side.
faulty_ports() {  # tool
  local side mode bytes dir args=()
  IFS=: read -r side mode bytes dir <<<"$FAULT"
  args=("--$mode-after" "$bytes" --direction "${dir:-down}" --faulty 1)
  REAL_SP=$SP REAL_DP=$DP REAL_SDP=$SDP
  local src_target=$SP
  [[ $1 == dsynctcp ]] && src_target=$SDP
  if [[ $side == src ]]; then start_proxy "src-$1" "$src_target" "${args[@]}"; else start_proxy "src-$1" "$src_target"; fi
  if [[ $1 == dsynctcp ]]; then SDP=$PROXY_PORT; else SP=$PROXY_PORT; fi
  if [[ $side == dst ]]; then start_proxy "dst-$1" "$DP" "${args[@]}"; else start_proxy "dst-$1" "$DP"; fi
  DP=$PROXY_PORT
}
# With --wan: both sides through wan-proxy.py for this pass.
start_wan() {  # name target_port -> sets PROXY_PORT
  local rtt mbit
  IFS=: read -r rtt mbit <<<"$WAN"
  rm -f "$W/wan-$1.port"
  python3 "$HERE/wan-proxy.py" --listen 127.0.0.1:0 --target "127.0.0.1:$2" --rtt-ms "$rtt" --mbit "$mbit" --stats ${WAN_TRACE:+--trace "$W/logs/trace-$1.txt"} \
    >"$W/wan-$1.port" 2>>"$W/logs/wan-$1.log" &
  PROXY_PIDS+=($!)
  local i
  for ((i = 0; i < 100; i++)); do [[ -s $W/wan-$1.port ]] && break; sleep 0.05; done
  PROXY_PORT=$(awk '/^listening/{print $2}' "$W/wan-$1.port")
  [[ -n $PROXY_PORT ]] || { echo "wan-proxy did not start" >&2; exit 1; }
}
wan_ports() {
  REAL_SP=$SP REAL_DP=$DP REAL_SDP=$SDP
  start_wan src "$SP"; SP=$PROXY_PORT
  start_wan dst "$DP"; DP=$PROXY_PORT
}
direct_ports() {
  stop_proxies
  SP=$REAL_SP DP=$REAL_DP SDP=$REAL_SDP
}

# ---- measure ----
ROWS=()
measure() {  # tool pass
  local tool=$1 pass=$2 tf="$W/logs/time-$1-$2.txt" s0 d0 s1 d1 rc=0
  # Flush dirty pages first: right after seeding (or wiping the destination) the kernel is still
  # writing back hundreds of MB, and every fsync Dovecot does then takes ~10x longer.
  sync
  s0=$(server_cpu "$W/src"); d0=$(server_cpu "$W/dst")
  export W SP SDP DP USERS IMAPSYNC_BIN HERE CUTOVER CUTOVER_B CUTOVER_COMPRESS CUTOVER_SPLIT CUTOVER_WORKERS
  /usr/bin/time -v -o "$tf" bash -c "$(declare -f run_cutover "run_$tool"); run_$tool $pass" || rc=$?
  s1=$(server_cpu "$W/src"); d1=$(server_cpu "$W/dst")
  local wall user sys rss pct got
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$tf")
  user=$(awk -F': ' '/User time/{print $2}' "$tf")
  sys=$(awk -F': ' '/System time/{print $2}' "$tf")
  rss=$(awk -F': ' '/Maximum resident/{print $2}' "$tf")
  pct=$(awk -F': ' '/Percent of CPU/{print $2}' "$tf")
  got=$(dst_count)
  local fid; fid=$(fidelity)
  ROWS+=("$(awk -v t="$tool" -v p="$pass" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" \
    -v pc="$pct" -v sc="$(calc "$s1 - $s0")" -v dc="$(calc "$d1 - $d0")" \
    -v n="$SRC_MSGS" -v b="$SRC_BYTES" -v g="$got" -v rc="$rc" -v fid="$fid" 'BEGIN{
      split(fid, f, " ");
      printf "%-9s %-6s %8.1f %8.0f %7.2f %8.1f %5s %7.1f %7.1f %7.0f %6d/%-6d %3d %5d %5d %5d %5d %5d",
        t, p, w, n/w, b/1e6/w, u+s, pc, sc, dc, r/1024, g, n, rc, f[1], f[2], f[3], f[4], f[5] }')")
  echo "${ROWS[-1]}" >&2
}

HEADER=$(printf '%-9s %-6s %8s %8s %7s %8s %5s %7s %7s %7s %13s %3s %5s %5s %5s %5s %5s' \
  tool pass wall_s msg/s MB/s tool_cpu cpu% src_cpu dst_cpu rss_MB dst/src_msgs rc miss extra size flags date)
echo "$HEADER" >&2
for ((round = 1; round <= ROUNDS; round++)); do
for tool in $TOOLS; do
  if ! "have_$tool"; then
    ROWS+=("$(printf '%-9s (not available here; skipped)' "$tool")")
    echo "${ROWS[-1]}" >&2
    continue
  fi
  reset_dst
  rm -rf "$W/mbsyncrc" "$W/mbsync-state" "$W"/naive-state-*.json "$W/imapsync" "$W"/cutover-state.sqlite*
  if [[ -n $FAULT ]]; then
    faulty_ports "$tool"
    measure "$tool" fault
    direct_ports
    measure "$tool" resume
  elif [[ -n $WAN ]]; then
    wan_ports; measure "$tool" full; direct_ports
    wan_ports; measure "$tool" noop; direct_ports
  else
    measure "$tool" full
    measure "$tool" noop
  fi
done
done

{
  echo
  echo "# peers.sh: $SRC_MSGS msgs, $(calc "$SRC_BYTES / 1000000") MB, $USERS users, loopback, dst mail_fsync=$DST_FSYNC, $(nproc) cores${FAULT:+, fault $FAULT}${WAN:+, WAN rtt_ms:mbit $WAN}"
  echo "# msg/s and MB/s = source totals / wall (for the noop pass: how fast it confirms nothing is new)"
  echo "# tool_cpu = user+sys of the tool and its children; src_cpu/dst_cpu = CPU of each Dovecot"
  echo "# miss/extra = messages (paired by folder + Message-ID) only in src / only in dst;"
  echo "#   size/flags/date = paired messages whose RFC822.SIZE, flags or INTERNALDATE differ; rc = exit status"
  echo "$HEADER"
  printf '%s\n' "${ROWS[@]}"
  if ((ROUNDS > 1)); then
    echo
    echo "# median wall_s over $ROUNDS rounds (tools run alternately, one after the other, each round)"
    printf '%s\n' "${ROWS[@]}" | awk '$3 ~ /^[0-9.]+$/ { k = $1 " " $2; v[k] = v[k] " " $3 }
      END { for (k in v) { n = split(substr(v[k], 2), a, " ");
              for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
              m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2;
              printf "%-9s %-6s median %8.2f  runs%s\n", substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), m, v[k] } }' | sort
  fi
} | tee ${OUT:+"$OUT"}
