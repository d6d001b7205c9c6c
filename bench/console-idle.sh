#!/usr/bin/env bash
# console-idle.sh: what the console costs when nothing happens: bytes per second written to the
# terminal (what crosses a laggy SSH link) and CPU, measured on the real binary inside tmux.
#
#   bench/console-idle.sh [SECONDS]     (default 30; CUTOVER=path, default target/release/cutover)
#
# The console opens an idle project (nothing started; the servers are never contacted), tmux's
# pipe-pane records every byte the program writes to its terminal, and /proc gives its CPU
# time. The first 3 seconds (the first full draw) are not counted.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-30}
CUTOVER=${CUTOVER:-$HERE/target/release/cutover}
[[ -x $CUTOVER ]] || (cd "$HERE" && cargo build --release --locked --quiet)
command -v tmux >/dev/null || { echo "needs tmux (apt-get install -y tmux)" >&2; exit 1; }
W=$(mktemp -d)
SOCK=cutover-idle-$$
trap 'tmux -L $SOCK kill-server 2>/dev/null || true; rm -rf "$W"' EXIT
cat >"$W/p.toml" <<EOF
[project]
name = "idle console"
state = "state.sqlite"
[source]
kind = "imap"
host = "127.0.0.1"
port = 1
security = "none"
[destination]
kind = "imap"
host = "127.0.0.1"
port = 2
security = "none"
[[mailbox]]
batch = "pilot"
source = { user = "a", password = "a" }
destination = { user = "a", password = "a" }
EOF
tmux -L "$SOCK" -f /dev/null new-session -d -s idle -x 120 -y 40 "$CUTOVER $W/p.toml"
sleep 3
PID=$(tmux -L "$SOCK" display -p -t idle '#{pane_pid}')
tmux -L "$SOCK" pipe-pane -o -t idle "cat >> $W/out"
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
c0=$(ticks)
sleep "$SECS"
c1=$(ticks)
tmux -L "$SOCK" pipe-pane -t idle
bytes=$(stat -c %s "$W/out" 2>/dev/null || echo 0)
awk -v b="$bytes" -v s="$SECS" -v c=$((c1 - c0)) -v hz="$HZ" 'BEGIN {
  printf "console idle for %d s at 120x40: %d bytes written (%.0f bytes/s), CPU %.2f s (%.2f%% of one core)\n",
    s, b, b / s, c / hz, 100 * c / hz / s }'
