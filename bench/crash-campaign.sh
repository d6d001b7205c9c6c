#!/usr/bin/env bash
# crash-campaign.sh: kill -9 the real `cutover run` at random moments, many times, then check
# that nothing was lost or duplicated.
#
#   bench/crash-campaign.sh [--kills N] [--messages M] [--huge-mb MB] [--seed S] [--keep]
#
# Starts two throwaway Dovecot servers on 127.0.0.1 (tests/support/dovecot-instance.sh; the
# destination with mail_fsync=always so APPENDs are slow enough to be killed in the middle),
# seeds the source (tests/support/seed-maildir.py: tricky messages and one big one included),
# then N times: start `cutover run`, wait a random 0.2-3 s, SIGKILL it if it still runs. Then
# one final run, which must exit 0, and an independent comparison through Python's imaplib
# (tests/support/imap_dump.py): per folder, the multiset of (SHA-256 of the bytes, flags,
# INTERNALDATE, size) must be equal on both sides. Exit 0 when everything matches.
#
# The binary: $CUTOVER, else ${CARGO_TARGET_DIR:-target}/release/cutover (built if missing).
# Needs dovecot-imapd and python3 (./test.sh installs them).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
support=$here/tests/support
kills=20 messages=3000 huge_mb=8 seed=$RANDOM keep=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --kills) kills=$2; shift 2 ;;
    --messages) messages=$2; shift 2 ;;
    --huge-mb) huge_mb=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "crash-campaign: unknown option $1" >&2; exit 2 ;;
  esac
done

bin=${CUTOVER:-${CARGO_TARGET_DIR:-$here/target}/release/cutover}
if [[ ! -x $bin ]]; then
  echo "crash-campaign: building $bin"
  (cd "$here" && cargo build --release --locked --quiet)
fi

work=$(mktemp -d /tmp/cutover-crash.XXXXXX)
cleanup() {
  "$support/dovecot-instance.sh" destroy "$work/src" >/dev/null 2>&1 || true
  "$support/dovecot-instance.sh" destroy "$work/dst" >/dev/null 2>&1 || true
  if [[ $keep -eq 0 ]]; then rm -rf "$work"; else echo "crash-campaign: kept $work"; fi
}
trap cleanup EXIT

field() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"; }
user=alice pass=alice-pw
src_line=$("$support/dovecot-instance.sh" start src auto "$work/src" --user "$user:$pass")
dst_line=$("$support/dovecot-instance.sh" start dst auto "$work/dst" --user "$user:$pass" --fsync always)
src_port=$(field "$src_line" port)
dst_port=$(field "$dst_line" port)
echo "crash-campaign: source 127.0.0.1:$src_port, destination 127.0.0.1:$dst_port, seed $seed"
python3 "$support/seed-maildir.py" --instance "$work/src" --user "$user" -n "$messages" \
  --seed "$seed" --huge --huge-mb "$huge_mb" -q

cat >"$work/project.toml" <<EOF
[project]
name = "crash campaign"
state = "state.sqlite"

[source]
kind = "imap"
host = "127.0.0.1"
port = $src_port
security = "none"

[destination]
kind = "imap"
host = "127.0.0.1"
port = $dst_port
security = "none"

[[mailbox]]
batch = "b"
source = { user = "$user", password = "$pass" }
destination = { user = "$user", password = "$pass" }
EOF

in_doubt() {
  python3 - "$work/state.sqlite" <<'EOF'
import os, sqlite3, sys
p = sys.argv[1]
if not os.path.exists(p):
    print(0)
else:
    c = sqlite3.connect(p)
    print(c.execute("SELECT count(*) FROM messages WHERE state = 'appending'").fetchone()[0])
EOF
}

mid=0 doubt_kills=0 finished=0
for ((i = 1; i <= kills; i++)); do
  "$bin" run "$work/project.toml" >"$work/run-$i.log" 2>&1 &
  pid=$!
  # 0.2 to 3.0 s, from bash's RANDOM (the seed above does not fix it: every campaign differs).
  ms=$((200 + RANDOM % 2800))
  sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    mid=$((mid + 1))
    d=$(in_doubt)
    [[ $d -gt 0 ]] && doubt_kills=$((doubt_kills + 1))
    echo "kill $i after ${ms} ms: killed mid-run, $d APPEND(s) in doubt"
  else
    wait "$pid" 2>/dev/null || true
    finished=$((finished + 1))
    echo "kill $i after ${ms} ms: the run had already finished"
  fi
done

set +e
"$bin" run "$work/project.toml" >"$work/final.log" 2>&1
final=$?
"$bin" verify "$work/project.toml" >"$work/verify.log" 2>&1
verify=$?
set -e

python3 "$support/imap_dump.py" 127.0.0.1 "$src_port" "$user" "$pass" >"$work/src.json"
python3 "$support/imap_dump.py" 127.0.0.1 "$dst_port" "$user" "$pass" >"$work/dst.json"
set +e
summary=$(python3 - "$work/src.json" "$work/dst.json" <<'EOF'
import collections, datetime, json, sys
src = json.load(open(sys.argv[1]))["folders"]
dst = json.load(open(sys.argv[2]))["folders"]
now = datetime.datetime.now(datetime.timezone.utc)

def future(d):
    try:
        return datetime.datetime.strptime(d, "%d-%b-%Y %H:%M:%S %z") > now
    except ValueError:
        return False

def key(m, fut):
    sha, flags, date, size = m
    # Dovecot replaces an INTERNALDATE in the future with the APPEND time (a server rule).
    return (sha, tuple(sorted(flags)), "future" if sha in fut else date, size)

missing = dup = extra = total = 0
bad = []
for folder, msgs in src.items():
    fut = {m[0] for m in msgs if future(m[2])}
    want = collections.Counter(key(m, fut) for m in msgs)
    have = collections.Counter(key(m, fut) for m in dst.get(folder, []))
    total += sum(want.values())
    for k, n in want.items():
        if have[k] < n:
            missing += n - have[k]
        elif have[k] > n:
            dup += have[k] - n
    for k, n in have.items():
        if k not in want:
            extra += n
    if want != have:
        bad.append(folder)
print(f"{total} messages in {len(src)} folders: {missing} missing, {dup} duplicated, "
      f"{extra} not from the source" + (f" (folders differing: {bad})" if bad else ""))
sys.exit(1 if missing or dup or extra else 0)
EOF
)
same=$?
set -e

ok=1
[[ $final -eq 0 && $verify -eq 0 && $same -eq 0 ]] || ok=0
echo "crash campaign: $kills kills ($mid mid-run, $doubt_kills with APPENDs in doubt), final run exit $final, verify exit $verify; $summary; $([[ $ok -eq 1 ]] && echo PASS || echo FAIL)"
if [[ $ok -eq 0 ]]; then
  keep=1
  echo "crash-campaign: see $work/final.log and $work/verify.log" >&2
  exit 1
fi
