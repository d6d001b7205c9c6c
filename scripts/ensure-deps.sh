#!/usr/bin/env bash
# ensure-deps.sh: make sure the programs the sample and the tests need are here:
# Dovecot (dovecot-imapd with doveadm, dovecot-pop3d), PostgreSQL (initdb and postgres under
# /usr/lib/postgresql/*/bin, run by tests/it/support/postgres.rs for the PostgreSQL journal), Radicale (CalDAV/CardDAV, run by
# tests/support/dav-instance.sh with /usr/bin/python3), python3, openssl, tmux, and headless Chromium (the HTML report test). Installs them with apt-get when
# missing and allowed (running as root, or with sudo, and CUTOVER_NO_INSTALL unset).
set -euo pipefail
need=()
[[ -x /usr/sbin/dovecot ]] && command -v doveadm >/dev/null || need+=(dovecot-imapd)
[[ -x /usr/lib/dovecot/pop3 ]] || need+=(dovecot-pop3d)
command -v python3 >/dev/null || need+=(python3)
# PostgreSQL from Debian: its binaries are not on PATH; setpriv (util-linux) runs them as nobody.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v setpriv >/dev/null || need+=(util-linux)
# Radicale 3.1.x from Debian: its module must import in the system python (not a pyenv one).
[[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import radicale' 2>/dev/null || need+=(radicale)
command -v openssl >/dev/null || need+=(openssl)
[[ -x /usr/bin/time ]] || need+=(time)
command -v tmux >/dev/null || need+=(tmux)
# Headless Chromium: the HTML reports are opened and screenshotted in a test.
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || need+=(chromium)
[[ ${#need[@]} -eq 0 ]] && exit 0
if [[ -n ${CUTOVER_NO_INSTALL:-} ]]; then
  echo "missing: ${need[*]} (CUTOVER_NO_INSTALL is set, so not installing; apt-get install -y ${need[*]})" >&2
  exit 1
fi
SUDO=""
if [[ $(id -u) != 0 ]]; then
  command -v sudo >/dev/null || { echo "missing: ${need[*]}; install them as root: apt-get install -y ${need[*]}" >&2; exit 1; }
  SUDO=sudo
fi
command -v apt-get >/dev/null || { echo "missing: ${need[*]} and no apt-get here; install them with your package manager" >&2; exit 1; }
echo "installing ${need[*]} (apt-get)..." >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
# The packaged service is not needed (and may not start in containers): the tests and the
# sample run their own throwaway instances.
