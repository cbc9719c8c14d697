#!/usr/bin/env bash
# Set up a fresh Debian machine for mailappliance: Debian packages (tests: also the
# mail clients, Chromium, PostgreSQL, Redis, Dovecot), the venv and pinned requirements.
# Usage: scripts/setup.sh run|test|bench      Idempotent: quick when everything is there.
# bench: the test packages plus Postfix (bench/smtp.py runs its own on loopback; the system one stays stopped).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

run_packages=(ca-certificates)
bench_packages=(postfix)
test_packages=(swaks libnet-ssleay-perl libio-socket-ssl-perl mutt isync fetchmail getmail6 sieve-connect chromium postgresql redis-server redis-tools dovecot-imapd dovecot-pop3d nginx libnginx-mod-mail tmux opendkim opendkim-tools pebble)

need=()
want=("${run_packages[@]}")
case "$mode" in
  test) want+=("${test_packages[@]}") ;;
  bench) want+=("${test_packages[@]}" "${bench_packages[@]}") ;;
esac
for pkg in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "Installing Debian packages: ${need[*]}"
  $SUDO apt-get update -qq
  # Debian starts a service on install where it can; the tests run their own on loopback, and nginx
  # started as a system service would take port 80 (or fail the install when something holds it).
  # A policy-rc.d answering 101 keeps every service down during this install (unless one exists).
  own_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || { [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d; exit 1; }
  [ -z "$own_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  for svc in dovecot postgresql redis-server postfix nginx; do $SUDO service "$svc" stop >/dev/null 2>&1 || true; done
  # nginx runs only as the tests' foreground process (tests/cluster/proxy.py), never at boot.
  if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable nginx >/dev/null 2>&1 || true; fi
  $SUDO update-rc.d nginx disable >/dev/null 2>&1 || true
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements-installed
if [ ! -f "$stamp" ] || ! cmp -s requirements.txt "$stamp"; then
  # Say what is happening: on a fresh machine this takes a minute or more, and a silent pip
  # looks like a hang. pip's own lines (Collecting…, Downloading…, progress) follow; the
  # "Requirement already satisfied" lines of a re-run and pip's notes about find-links
  # folders this machine lacks are noise: drop them.
  count=$(grep -cvE '^\s*(#|$)' requirements.txt || true)
  echo "Installing Python packages into .venv: pip, then the $count pinned in requirements.txt (a minute or two on a fresh machine)…"
  noise="is ignored: it is neither|^Requirement already satisfied"
  unnoise() { grep --line-buffered -vE "$noise" || true; }
  .venv/bin/pip install --progress-bar on --upgrade pip 2>&1 | unnoise || true
  .venv/bin/pip install --progress-bar on -r requirements.txt 2>&1 | unnoise  # pipefail: a pip failure stops here
  cp requirements.txt "$stamp"
  echo "Python packages installed."
fi

# Tests: every tool must work the way the tests drive it; the first that does not stops here.
if [ "$mode" = test ]; then scripts/check-tools.sh; fi
