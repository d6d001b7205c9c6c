#!/usr/bin/env bash
# backup.sh: `cutover backup` against `cutover run` on the same data: a seeded source Dovecot,
# ROUNDS migrations each into a fresh destination Dovecot and ROUNDS backups each into a fresh
# directory, alternated; prints each wall time, the median of each, and the backup's size on
# disk: the message files' apparent size (not disk blocks) against the messages' RFC822 sizes
# (the source's vsize, CRLF).
#
#   backup.sh [--users N] [--per-user N] [--seed S] [--rounds N] [--keep]
#
# Needs: dovecot-imapd, python3, $CUTOVER (a built cutover binary; copied into the work dir
# first, so a rebuild meanwhile does not change what is measured).
# Everything lives in a mktemp -d work dir, removed at exit (--keep keeps it); every server
# this script starts is stopped at exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=2 PER_USER=2000 SEED=1 ROUNDS=3 KEEP=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) USERS=$2; shift 2 ;;
    --per-user) PER_USER=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
. "$HERE/lib.sh"
bench_init backup
start_dovecot src; SP=$PORT
seed_users src "$PER_USER" "$SEED" --no-tricky
SRC_MSGS=0 SRC_BYTES=0
for ((i = 1; i <= USERS; i++)); do
  # Reads every message once (indexes built, files in the page cache) before any timing.
  doveadm -c "$W/src/dovecot.conf" fetch -u "user$i" 'uid size.virtual' mailbox '*' all >/dev/null
  read -r m b < <(doveadm -c "$W/src/dovecot.conf" mailbox status -u "user$i" 'messages vsize' '*' |
    awk '{for(i=1;i<=NF;i++){split($i,kv,"="); if(kv[1]=="messages")m+=kv[2]; if(kv[1]=="vsize")b+=kv[2]}} END{print m+0, b+0}')
  SRC_MSGS=$((SRC_MSGS + m)) SRC_BYTES=$((SRC_BYTES + b))
done
printf '# source: %d users, %d messages, %d bytes (RFC822 sizes, CRLF)\n' "$USERS" "$SRC_MSGS" "$SRC_BYTES"

# A project file: the source Dovecot to DESTINATION, every user in one batch.
project() { # DIR DESTINATION-TABLE
  mkdir -p "$1"
  {
    printf '[project]\nname = "bench"\nstate = "state.sqlite"\n\n'
    printf '[source]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\n\n' "$SP"
    printf '[destination]\n%s\n\n' "$2"
    for ((i = 1; i <= USERS; i++)); do
      printf '[[mailbox]]\nsource = { user = "user%d", password = "pw-user%d" }\n' "$i" "$i"
      printf 'destination = { user = "user%d", password = "pw-user%d" }\n\n' "$i" "$i"
    done
  } >"$1/project.toml"
}

timed() { # LOG CMD...: wall seconds on stdout; fails when the command fails
  local s e
  s=$(date +%s.%N)
  "${@:2}" >"$1" 2>&1 || { echo "failed: ${*:2} (see $1)" >&2; tail -5 "$1" >&2; exit 1; }
  e=$(date +%s.%N)
  calc "$e - $s"
}

RUNS=() BACKUPS=()
for ((r = 1; r <= ROUNDS; r++)); do
  "$INST" start "dst$r" auto "$W/dst$r" "${USER_ARGS[@]}" --no-gmail >/dev/null
  STARTED+=("$W/dst$r")
  DP=$(field "$W/dst$r" port)
  project "$W/run$r" "kind = \"imap\"
host = \"127.0.0.1\"
port = $DP
security = \"none\""
  t=$(timed "$W/run$r.log" "$W/cutover" run "$W/run$r/project.toml")
  RUNS+=("$t")
  echo "round $r: migration into a fresh Dovecot  $t s"
  "$INST" stop "$W/dst$r" >/dev/null 2>&1 || true
  # The backup's destination is a Maildir endpoint; its project names one only because a
  # project needs a destination (the backup reads the source and writes backups/source/).
  project "$W/bak$r" "kind = \"maildir\"
path = \"$W/bak$r/unused\""
  t=$(timed "$W/bak$r.log" "$W/cutover" backup "$W/bak$r/project.toml")
  BACKUPS+=("$t")
  echo "round $r: backup into a fresh directory    $t s"
done
MR=$(printf '%s\n' "${RUNS[@]}" | median)
MB=$(printf '%s\n' "${BACKUPS[@]}" | median)
# Apparent size of the message files only (cur/ and new/), not the manifest, summary,
# dovecot-keywords or the journal.
APPARENT=$(find "$W/bak1/backups/source" -type f \( -path '*/cur/*' -o -path '*/new/*' \) -printf '%s\n' |
  awk '{s+=$1} END{print s+0}')
FILES=$(find "$W/bak1/backups/source" -type f \( -path '*/cur/*' -o -path '*/new/*' \) | wc -l)
echo "median of $ROUNDS migrations: $MR s; median of $ROUNDS backups: $MB s (backup/migration $(calc "$MB / $MR"))"
echo "backup: $FILES message files, apparent size $APPARENT bytes; RFC822 sizes $SRC_BYTES bytes ($(calc "100 * ($APPARENT - $SRC_BYTES) / $SRC_BYTES") %)"
