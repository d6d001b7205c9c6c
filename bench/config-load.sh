#!/usr/bin/env bash
# config-load.sh: how long `cutover check` takes to load a project with many mailboxes, inline
# ([[mailbox]] tables) and from the mailbox CSV; issue 13's bound is 20,000 in under a second.
#
#   bench/config-load.sh [MAILBOXES] [RUNS]     (defaults 20000 and 5; CUTOVER=path, default
#                                                target/release/cutover)
#
# Prints the wall time of each run per layout (inline, CSV, both) and the best and the worst.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
N=${1:-20000}
RUNS=${2:-5}
CUTOVER=${CUTOVER:-$HERE/target/release/cutover}
[[ -x $CUTOVER ]] || (cd "$HERE" && cargo build --release --locked --quiet)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
python3 - "$W" "$N" <<'PY'
import sys
w, n = sys.argv[1], int(sys.argv[2])
head = ('[project]\nname = "big"\nstate = "s.sqlite"\n{csv}\n'
        '[source]\nkind = "imap"\nhost = "127.0.0.1"\nsecurity = "none"\n\n'
        '[destination]\nkind = "imap"\nhost = "127.0.0.1"\nsecurity = "none"\n\n')
inline = ''.join(
    f'[[mailbox]]\nbatch = "b{i % 10}"\nsource = {{ user = "u{i}", password = "p" }}\n'
    f'destination = {{ user = "u{i}@d", password = "p" }}\n\n' for i in range(n))
open(f'{w}/inline.toml', 'w').write(head.format(csv='') + inline)
open(f'{w}/csv.toml', 'w').write(head.format(csv='mailboxes_csv = "m.csv"\n'))
open(f'{w}/both.toml', 'w').write(head.format(csv='mailboxes_csv = "m.csv"\n') + inline)
with open(f'{w}/m.csv', 'w') as f:
    f.write('EmailAddress,UserName,Password,DestinationPassword,Batch\n')
    for i in range(n):
        f.write(f'c{i}@d,c{i},p,p,c{i % 10}\n')
PY
echo "cutover check, $N mailboxes per layout ($("$CUTOVER" --version)), $RUNS runs"
for layout in inline csv both; do
  times=()
  for _ in $(seq "$RUNS"); do
    s=$(date +%s.%N)
    "$CUTOVER" check "$W/$layout.toml" >/dev/null
    e=$(date +%s.%N)
    times+=("$(python3 -c "print(f'{$e - $s:.3f}')")")
  done
  sorted=$(printf '%s\n' "${times[@]}" | sort -n)
  printf '%-7s %s  best %s s, worst %s s\n' "$layout" "${times[*]}" \
    "$(head -1 <<<"$sorted")" "$(tail -1 <<<"$sorted")"
done
