#!/usr/bin/env bash
# test.sh: the whole test suite, on a fresh machine. Installs what the tests need (Dovecot,
# python3, openssl) when missing, checks formatting (cargo fmt --check) and lints (cargo clippy,
# warnings are errors), then runs every unit and integration test against real throwaway
# Dovecot servers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/ensure-deps.sh
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
# Formatting and lints are gates: a change that is not rustfmt-clean or draws a clippy
# warning does not pass, whatever its tests say.
for c in rustfmt clippy; do
  cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1 || rustup component add "$c"
done
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The layout is a gate too: no module cycles, no source file over 800 lines before its tests.
python3 scripts/cycles.py .
exec cargo test --workspace --locked "$@"
