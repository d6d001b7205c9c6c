#!/usr/bin/env bash
# run-sample.sh: the whole sample migration on a fresh machine, in one command.
#
#   ./run-sample.sh            start (and seed, the first time) two throwaway Dovecot servers on
#                              127.0.0.1:10143 (old system) and :11143/:11144 (new system), build
#                              cutover, and open the console: `cutover sample-project.toml`
#                              (without a terminal: `cutover run sample-project.toml`, headless)
#   ./run-sample.sh run        the same servers, then the headless `cutover run`
#   ./run-sample.sh verify     ... `cutover verify sample-project.toml`
#   ./run-sample.sh plan|watch|stop|rollback|failback [ARGS]   ... `cutover CMD sample-project.toml ARGS`
#   ./run-sample.sh reset      stop the servers and delete .sample/ (mail, journal, logs)
#
# Installs dovecot-imapd with apt-get when it is missing and allowed (see scripts/ensure-deps.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
S=$PWD/.sample
INST=tests/support/dovecot-instance.sh
cmd=${1:-console}
shift || true

if [[ $cmd == reset ]]; then
  $INST destroy "$S/src" >/dev/null 2>&1 || true
  $INST destroy "$S/dst" >/dev/null 2>&1 || true
  rm -rf -- "$S"
  echo "sample servers stopped, .sample/ removed"
  exit 0
fi

scripts/ensure-deps.sh
mkdir -p "$S"
echo "sample: starting two throwaway Dovecot servers on 127.0.0.1 (data in .sample/)"
$INST start sample-src 10143 "$S/src" --tls-port 10993 \
  --user alice:alice-secret --user bob:bob-secret --user carol:carol-secret --no-gmail >/dev/null
$INST start sample-dst 11143 "$S/dst" --tls-port 11144 --layout maildir++ --separator . --no-gmail \
  --user alice@new.test:alice-new-secret --user bob@new.test:bob-new-secret \
  --user carol@new.test:carol-new-secret >/dev/null
if [[ ! -e $S/.seeded ]]; then
  echo "sample: seeding the old system with realistic mail (tricky messages included)"
  python3 tests/support/seed-maildir.py --instance "$S/src" --user alice -n 1200 --seed 11 --huge --huge-mb 8 -q
  python3 tests/support/seed-maildir.py --instance "$S/src" --user bob -n 800 --seed 12 -q
  python3 tests/support/seed-maildir.py --instance "$S/src" --user carol -n 500 --seed 13 -q
  touch "$S/.seeded"
fi
echo "sample: building cutover (release)"
cargo build --release --quiet
if [[ $cmd == console ]]; then
  if [[ -t 0 && -t 1 ]]; then
    echo "sample: opening the console (cutover sample-project.toml); press ? for keys, q to quit"
    sleep 1
    cmd=tui
  else
    echo "sample: no terminal here, so running headless (cutover run); run it in a terminal for the console"
    cmd=run
  fi
fi
echo "sample: cutover $cmd sample-project.toml $*"
set +e
target/release/cutover "$cmd" sample-project.toml "$@"
rc=$?
echo "sample: cutover exited $rc. Servers keep running; './run-sample.sh reset' stops them."
exit $rc
