#!/usr/bin/env bash
# test.sh: the whole test suite, on a fresh machine. Installs what the tests need (Dovecot,
# python3, openssl) when missing, then runs every unit and integration test against real
# throwaway Dovecot servers on 127.0.0.1.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
scripts/ensure-deps.sh
command -v cargo >/dev/null || { echo "cargo not found: install Rust (https://rustup.rs)" >&2; exit 1; }
exec cargo test --locked "$@"
