#!/usr/bin/env bash
# run-sample.sh: the whole sample migration on a fresh machine, in one command.
#
#   ./run-sample.sh            start (and seed, the first time) two throwaway Dovecot servers on
#                              127.0.0.1:10143 (old system) and :11143/:11144 (new system) and two
#                              throwaway Radicale servers (calendars and contacts) on :10232 (old)
#                              and :11232 (new), build cutover, run the assessment (the checklist's
#                              automatic items), and open the console on the checklist:
#                              `cutover sample-project.toml` (without a terminal: as `run`)
#   ./run-sample.sh run        the same servers, then the procedure headless: `cutover assess`, the
#                              manual checklist items ticked (noted as ticked by this script),
#                              `cutover run --batch pilot`, `cutover verify --batch pilot`, then
#                              `cutover run` for the waves, and the final report in .sample/
#   ./run-sample.sh verify     ... `cutover verify sample-project.toml`
#   ./run-sample.sh plan|watch|stop|rollback|failback|checklist|report [ARGS]
#                              ... `cutover CMD sample-project.toml ARGS`
#   ./run-sample.sh reset      stop the servers and delete .sample/ (mail, calendars, contacts,
#                              journal, logs)
#
# Installs dovecot-imapd and radicale with apt-get when missing and allowed (see
# scripts/ensure-deps.sh). Honours CARGO_TARGET_DIR (where the release build goes).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
S=$PWD/.sample
INST=tests/support/dovecot-instance.sh
DAV=tests/support/dav-instance.sh
BIN=${CARGO_TARGET_DIR:-target}/release/cutover
cmd=${1:-console}
shift || true

if [[ $cmd == reset ]]; then
  $INST destroy "$S/src" >/dev/null 2>&1 || true
  $INST destroy "$S/dst" >/dev/null 2>&1 || true
  $DAV destroy "$S/src-dav" >/dev/null 2>&1 || true
  $DAV destroy "$S/dst-dav" >/dev/null 2>&1 || true
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
echo "sample: starting two throwaway Radicale servers (calendars, contacts) on 127.0.0.1:10232 and :11232"
$DAV start sample-src-dav 10232 "$S/src-dav" \
  --user alice:alice-secret --user bob:bob-secret --user carol:carol-secret >/dev/null
$DAV start sample-dst-dav 11232 "$S/dst-dav" --user alice@new.test:alice-new-secret \
  --user bob@new.test:bob-new-secret --user carol@new.test:carol-new-secret >/dev/null
if [[ ! -e $S/.seeded ]]; then
  echo "sample: seeding the old system with realistic mail (tricky messages included)"
  python3 tests/support/seed-maildir.py --instance "$S/src" --user alice -n 1200 --seed 11 --huge --huge-mb 8 -q
  python3 tests/support/seed-maildir.py --instance "$S/src" --user bob -n 800 --seed 12 -q
  python3 tests/support/seed-maildir.py --instance "$S/src" --user carol -n 500 --seed 13 -q
  touch "$S/.seeded"
fi
if [[ ! -e $S/.seeded-dav ]]; then
  echo "sample: seeding the old system's calendars and address books (series, meetings, photos)"
  seed_dav() {  # user password scale seed
    python3 tests/support/seed-dav.py --url http://127.0.0.1:10232 --user "$1" --password "$2" \
      --scale "$3" --seed "$4" --email "$1@old.test" -q >/dev/null
  }
  seed_dav alice alice-secret medium 11
  seed_dav bob bob-secret small 12
  seed_dav carol carol-secret small 13
  touch "$S/.seeded-dav"
fi
echo "sample: building cutover (release)"
cargo build --release --quiet
if [[ $cmd == console ]]; then
  if [[ -t 0 && -t 1 ]]; then
    cmd=tui
  else
    echo "sample: no terminal here, so walking the procedure headless (as './run-sample.sh run'); run it in a terminal for the console"
    cmd=run
  fi
fi
done_msg() {
  echo "sample: $1. Servers keep running; './run-sample.sh reset' stops them."
}
# Each step said, run, and its exit code kept: the first failure ends the walk.
step() {
  echo "sample: cutover $1 sample-project.toml ${*:2}"
  "$BIN" "$1" sample-project.toml "${@:2}"
}
set +e
if [[ $cmd == tui || $cmd == run ]]; then
  # The checklist's automatic items (logins, folders, quota) evaluated against the servers.
  echo "sample: cutover assess sample-project.toml > .sample/assess.txt"
  "$BIN" assess sample-project.toml > "$S/assess.txt"
  rc=$?
  echo "sample: assessment exited $rc (report in .sample/assess.txt)"
  if (( rc != 0 )); then done_msg "the assessment failed"; exit $rc; fi
fi
if [[ $cmd == tui ]]; then
  echo "sample: opening the console on the checklist: tick the manual items (space), start the pilot (Batches tab, s), verify it, then the waves; ? for keys, q to quit"
  sleep 1
  step tui "$@"
  rc=$?
  done_msg "cutover exited $rc"
  exit $rc
fi
if [[ $cmd == run ]]; then
  note="ticked by run-sample.sh: a local sample with no real users"
  for id in target-configured security-policies user-communication support rollback-plan; do
    "$BIN" checklist sample-project.toml --tick "$id" --note "$note" | grep "^ticked" || true
  done
  for s in "run --batch pilot $*" "verify --batch pilot" "run $*" "verify"; do
    # shellcheck disable=SC2086
    step $s
    rc=$?
    if (( rc != 0 )); then done_msg "cutover exited $rc"; exit $rc; fi
  done
  step report --kind final --out "$S/final-report.md"
  rc=$?
  echo "sample: the final report is in .sample/final-report.md"
  done_msg "every step exited 0"
  exit $rc
fi
step "$cmd" "$@"
rc=$?
done_msg "cutover exited $rc"
exit $rc
