#!/usr/bin/env bash
# memory.sh: cutover's peak memory with many large messages in flight. USERS mailboxes migrate
# at once (parallel_mailboxes = USERS), each holding BIG messages of 10 to 40 MB (random
# base64 attachments, so nothing compresses or dedups) among SMALL ordinary ones; prints the
# run's wall time, its peak resident set (/usr/bin/time -v) and checks that the destination
# holds every message.
#
#   memory.sh [--users N] [--big N] [--small N] [--keep]     (defaults: 16 users, 3 big, 20 small)
#
# Needs: dovecot-imapd, python3, /usr/bin/time, $CUTOVER (a built cutover binary, copied into
# the work dir first). Everything lives in a mktemp -d work dir, removed at exit (--keep keeps
# it); every server this script starts is stopped at exit. Disk: about 2 x USERS x BIG x 25 MB.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=16 BIG=3 SMALL=20 KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) USERS=$2; shift 2 ;;
    --big) BIG=$2; shift 2 ;;
    --small) SMALL=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
[[ -x /usr/bin/time ]] || { echo "memory.sh needs /usr/bin/time (apt-get install -y time)" >&2; exit 1; }
. "$HERE/lib.sh"
bench_init memory
start_dovecot src; SP=$PORT
start_dovecot dst; DP=$PORT

for ((i = 1; i <= USERS; i++)); do
  python3 "$HERE/../tests/support/seed-maildir.py" --instance "$W/src" --user "user$i" \
    -n "$SMALL" --seed "$i" --no-tricky -q
  # The big ones: straight into INBOX's cur/ (Dovecot assigns their UIDs).
  python3 - "$W/src" "user$i" "$BIG" "$i" <<'EOF'
import base64, os, random, sys
inst, user, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
rnd = random.Random(seed)
cur = os.path.join(inst, "mail", user, "Maildir", "cur")
os.makedirs(cur, exist_ok=True)
for k in range(n):
    mb = 10 + (30 * k) // max(n - 1, 1)
    body = base64.encodebytes(rnd.randbytes(mb * 1024 * 1024 * 3 // 4)).replace(b"\n", b"\r\n")
    msg = (f"From: big{k}@example.com\r\nTo: {user}@example.com\r\nSubject: big {k} ({mb} MB)\r\n"
           f"Message-ID: <big{k}.{user}@example.com>\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
           "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
           "Content-Type: text/plain\r\n\r\nsee attachment\r\n--b\r\n"
           "Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           ).encode() + body + b"--b--\r\n"
    with open(os.path.join(cur, f"17000{k:04d}.M{k}P{seed}.bench:2,S"), "wb") as f:
        f.write(msg)
EOF
done
SRC_MSGS=0
for ((i = 1; i <= USERS; i++)); do
  n=$(doveadm -c "$W/src/dovecot.conf" mailbox status -u "user$i" messages '*' | awk -F= '{s+=$2} END{print s}')
  SRC_MSGS=$((SRC_MSGS + n))
done
SRC_MB=$(du -sm "$W/src" | awk '{print $1}')

{
  printf '[project]\nname = "memory"\nstate = "%s/state.sqlite"\nparallel_mailboxes = %d\n\n' "$W" "$USERS"
  printf '[source]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\nmax_connections = %d\n\n' "$SP" "$((USERS * 2))"
  printf '[destination]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\nmax_connections = %d\n\n' "$DP" "$((USERS * 2))"
  for ((i = 1; i <= USERS; i++)); do
    printf '[[mailbox]]\nbatch = "all"\nsource = { user = "user%d", password = "pw-user%d" }\n' "$i" "$i"
    printf 'destination = { user = "user%d", password = "pw-user%d" }\n\n' "$i" "$i"
  done
} >"$W/project.toml"
sync
/usr/bin/time -v -o "$W/time.txt" "$W/cutover" run "$W/project.toml" >"$W/run.log" 2>&1 || {
  echo "cutover run failed:" >&2; tail -20 "$W/run.log" >&2; exit 1
}
DST_MSGS=0
for ((i = 1; i <= USERS; i++)); do
  n=$(doveadm -c "$W/dst/dovecot.conf" mailbox status -u "user$i" messages '*' | awk -F= '{s+=$2} END{print s}')
  DST_MSGS=$((DST_MSGS + n))
done
wall=$(awk -F': ' '/Elapsed \(wall clock\)/{n=split($2,a,":"); s=0; for(i=1;i<=n;i++) s=s*60+a[i]; print s}' "$W/time.txt")
rss=$(awk -F': ' '/Maximum resident/{print $2}' "$W/time.txt")
echo "# memory.sh: $USERS mailboxes at once, each $BIG messages of 10-40 MB and $SMALL small ones; $(nproc) cores, loopback"
echo "source $SRC_MSGS messages, ${SRC_MB} MB on disk; destination $DST_MSGS messages"
printf 'wall %.1f s, peak RSS %.1f MB\n' "$wall" "$(awk "BEGIN{print $rss / 1024}")"
[[ $DST_MSGS == "$SRC_MSGS" ]] || { echo "MISMATCH: the destination does not hold every message" >&2; exit 1; }
