# lib.sh: what the Dovecot benchmarks share (sourced, not run). After `bench_init NAME`:
# $W is a fresh mktemp -d work dir (removed at exit unless KEEP=1) holding a copy of $CUTOVER
# (so a rebuild meanwhile does not change what is measured); every Dovecot started with
# `start_dovecot` is stopped at exit; USER_ARGS holds --user userI:pw-userI for I in 1..USERS.
# Needs HERE (the bench/ directory), USERS and KEEP set by the caller.

bench_init() { # NAME
  [[ -x ${CUTOVER:-} ]] || { echo "set CUTOVER to the cutover binary" >&2; exit 1; }
  W=$(mktemp -d "${TMPDIR:-/tmp}/$1-bench.XXXXXX")
  cp "$CUTOVER" "$W/cutover"
  INST="$HERE/../tests/support/dovecot-instance.sh"
  STARTED=()
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
  USER_ARGS=()
  local i
  for ((i = 1; i <= USERS; i++)); do USER_ARGS+=(--user "user$i:pw-user$i"); done
}

bench_cleanup() {
  local d
  for d in "${STARTED[@]}"; do "$INST" stop "$d" >/dev/null 2>&1 || true; done
  if [[ $KEEP == 1 ]]; then echo "kept work dir $W" >&2; else rm -rf -- "$W"; fi
}

# A field of an instance's instance.env (port, ...).
field() { sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$1/instance.env"; }
calc() { awk "BEGIN{printf \"%.3f\", $1}"; }
median() { sort -n | awk '{a[NR]=$1} END{print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Start a throwaway Dovecot in $W/NAME with the benchmark's users; its port in PORT. Called
# in this shell, not in a $(...) subshell, so that the cleanup knows every server.
start_dovecot() { # NAME
  "$INST" start "$1" auto "$W/$1" "${USER_ARGS[@]}" >/dev/null
  STARTED+=("$W/$1")
  PORT=$(field "$W/$1" port)
}

# Seed every user of the instance $W/NAME with N messages, user I with seed BASE + I.
seed_users() { # NAME N BASE [seed-maildir.py options...]
  local name=$1 n=$2 base=$3 i
  shift 3
  for ((i = 1; i <= USERS; i++)); do
    python3 "$HERE/../tests/support/seed-maildir.py" --instance "$W/$name" --user "user$i" \
      -n "$n" --seed "$((base + i))" -q "$@"
  done
}
