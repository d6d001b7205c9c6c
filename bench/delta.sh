#!/usr/bin/env bash
# delta.sh: the delta pass of coexistence. After a first full copy, users work on the source
# (per user: NEW new messages, FLAGS flag changes, MOVES messages moved from INBOX to Archive,
# DELS deletions); then one delta pass of each tool is timed, and the destination is compared
# with the source: messages only on one side (miss/extra, paired by folder and Message-ID) and
# paired messages whose flags differ.
#
#   delta.sh [--users N] [--per-user N] [--tools "cutover mbsync"] [--keep]
#
# Tools: cutover (`cutover run` for the first copy, then `cutover sync`), mbsync (one Channel
# per user, Sync Pull, Create Near, Expunge None: its documented way to keep a copy in step).
# Each tool has its own destination Dovecot. Needs: dovecot-imapd, python3, /usr/bin/time,
# $CUTOVER (a built cutover binary), mbsync (isync) for that tool.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
USERS=2 PER_USER=1000 TOOLS="cutover mbsync" KEEP=0
NEW=50 FLAGS=40 MOVES=30 DELS=10
while [[ $# -gt 0 ]]; do
  case $1 in
    --users) USERS=$2; shift 2 ;;
    --per-user) PER_USER=$2; shift 2 ;;
    --tools) TOOLS=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
. "$HERE/lib.sh"
bench_init delta
mkdir -p "$W/logs"
start_dovecot src; SP=$PORT
seed_users src "$PER_USER" 1 --no-tricky
dsrc() { doveadm -c "$W/src/dovecot.conf" "$@"; }

cutover_project() {  # dst_port
  {
    printf '[project]\nname = "delta"\nstate = "%s/cutover-state.sqlite"\n\n' "$W"
    printf '[source]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\n\n' "$SP"
    printf '[destination]\nkind = "imap"\nhost = "127.0.0.1"\nport = %s\nsecurity = "none"\n\n' "$1"
    for ((i = 1; i <= USERS; i++)); do
      printf '[[mailbox]]\nbatch = "all"\nsource = { user = "user%d", password = "pw-user%d" }\n' "$i" "$i"
      printf 'destination = { user = "user%d", password = "pw-user%d" }\n\n' "$i" "$i"
    done
  } >"$W/cutover.toml"
}
mbsync_rc() {  # dst_port
  for ((i = 1; i <= USERS; i++)); do
    mkdir -p "$W/mbsync-state/user$i"
    printf 'IMAPAccount src%d\nHost 127.0.0.1\nPort %s\nUser user%d\nPass pw-user%d\nSSLType None\nAuthMechs LOGIN\n\n' "$i" "$SP" "$i" "$i"
    printf 'IMAPStore src%d\nAccount src%d\n\n' "$i" "$i"
    printf 'IMAPAccount dst%d\nHost 127.0.0.1\nPort %s\nUser user%d\nPass pw-user%d\nSSLType None\nAuthMechs LOGIN\n\n' "$i" "$1" "$i" "$i"
    printf 'IMAPStore dst%d\nAccount dst%d\n\n' "$i" "$i"
    printf 'Channel user%d\nFar :src%d:\nNear :dst%d:\nPatterns *\nCreate Near\nRemove None\nExpunge None\nSync Pull\nCopyArrivalDate yes\nSyncState %s/mbsync-state/user%d/\n\n' "$i" "$i" "$i" "$W" "$i"
  done >"$W/mbsyncrc"
}
run_tool() {  # tool pass
  case $1 in
    cutover) if [[ $2 == full ]]; then "$W/cutover" run "$W/cutover.toml"; else "$W/cutover" sync "$W/cutover.toml"; fi ;;
    mbsync) mbsync -c "$W/mbsyncrc" -a ;;
  esac >"$W/logs/$1-$2.log" 2>&1
}

# First copies, untimed.
declare -A DPORT
for tool in $TOOLS; do
  [[ $tool == mbsync ]] && ! command -v mbsync >/dev/null && { echo "# mbsync missing: skipped"; continue; }
  start_dovecot "dst-$tool"; DPORT[$tool]=$PORT
  cutover_project "${DPORT[$tool]}"; mbsync_rc "${DPORT[$tool]}"
  run_tool "$tool" full || { echo "$tool: first copy failed (see $W/logs)" >&2; exit 1; }
done

# What users do on the source meanwhile.
for ((i = 1; i <= USERS; i++)); do
  u="user$i"
  python3 "$HERE/../tests/support/seed-maildir.py" --instance "$W/src" --user "$u" \
    -n "$NEW" --offset "$PER_USER" --seed "$((1 + i))" --no-tricky -q
  uids=$(dsrc search -u "$u" mailbox INBOX all | awk '{print $2}')
  flag=$(echo "$uids" | sed -n "1,${FLAGS}p" | paste -sd,)
  move=$(echo "$uids" | sed -n "$((FLAGS + 1)),$((FLAGS + MOVES))p" | paste -sd,)
  dele=$(echo "$uids" | sed -n "$((FLAGS + MOVES + 1)),$((FLAGS + MOVES + DELS))p" | paste -sd,)
  dsrc flags add -u "$u" '\Flagged $Reviewed' mailbox INBOX uid "$flag"
  dsrc move -u "$u" Archive mailbox INBOX uid "$move"
  dsrc expunge -u "$u" mailbox INBOX uid "$dele"
done

compare() {  # dst_dir -> "miss extra flags"
  local i side
  for ((i = 1; i <= USERS; i++)); do
    for side in src "$1"; do
      doveadm -c "$W/$side/dovecot.conf" -f tab fetch -u "user$i" \
        'mailbox flags hdr.message-id' all >"$W/fid-$side-$i.tsv" 2>/dev/null || true
    done
  done
  python3 - "$W" "$USERS" "$1" <<'PY'
import collections, sys
w, users, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
miss = extra = fl = 0
for i in range(1, users + 1):
    side = {}
    for s in ("src", dst):
        rows = collections.defaultdict(list)
        with open("%s/fid-%s-%d.tsv" % (w, s, i), encoding="utf-8", errors="replace") as f:
            next(f, None)
            for line in f:
                c = line.rstrip("\n").split("\t")
                if len(c) < 3:
                    continue
                flags = " ".join(sorted(x for x in c[1].split() if x != "\\Recent"))
                rows[(c[0], c[2])].append(flags)
        side[s] = rows
    for k in set(side["src"]) | set(side[dst]):
        a, b = sorted(side["src"].get(k, [])), sorted(side[dst].get(k, []))
        miss += max(0, len(a) - len(b)); extra += max(0, len(b) - len(a))
        fl += sum(1 for x, y in zip(a, b) if x != y)
print(miss, extra, fl)
PY
}

echo "# delta.sh: $USERS users x $PER_USER messages, then per user $NEW new, $FLAGS flag changes, $MOVES moves (INBOX -> Archive), $DELS deletions; $(nproc) cores, loopback"
printf '%-9s %8s  %5s %5s %6s\n' tool wall_s miss extra flags
for tool in $TOOLS; do
  [[ -n ${DPORT[$tool]:-} ]] || continue
  cutover_project "${DPORT[$tool]}"; mbsync_rc "${DPORT[$tool]}"
  sync
  /usr/bin/time -f %e -o "$W/time-$tool" bash -c "$(declare -f run_tool); W=$W run_tool $tool delta" || true
  read -r miss extra fl < <(compare "dst-$tool")
  printf '%-9s %8s  %5s %5s %6s\n' "$tool" "$(cat "$W/time-$tool")" "$miss" "$extra" "$fl"
done
echo "# miss/extra: messages only on the source / only on the destination (paired by folder and"
echo "# Message-ID; deletions are reported, not propagated, by cutover's default, so each tool keeps"
echo "# the $DELS x $USERS deleted ones as extra); flags: paired messages whose flags differ"
