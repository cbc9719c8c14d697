#!/usr/bin/env bash
# Check that every tool the tests drive works the way the tests use it (not merely that its
# package is installed): swaks speaks TLS, Chromium starts headless under Playwright, and so on.
# The first failure stops with one line naming the Debian package to install.
set -uo pipefail
cd "$(dirname "$0")/.."

fail() { echo "check-tools: $1 (Debian package: $2)" >&2; exit 1; }

swaks_support=$(swaks --support 2>&1)
grep -q '=== TLS supported' <<<"$swaks_support" || fail "swaks cannot do TLS" "libnet-ssleay-perl libio-socket-ssl-perl"
grep -q '=== Basic AUTH supported' <<<"$swaks_support" || fail "swaks cannot do AUTH" "swaks"
mutt -v >/dev/null 2>&1 || fail "mutt does not run" "mutt"
tmux -V >/dev/null 2>&1 || fail "tmux does not run (mutt tests drive mutt under tmux)" "tmux"
mbsync --version >/dev/null 2>&1 || fail "mbsync does not run" "isync"
fetchmail --version >/dev/null 2>&1 || fail "fetchmail does not run" "fetchmail"
getmail --version >/dev/null 2>&1 || fail "getmail does not run" "getmail6"
command -v sieve-connect >/dev/null || fail "sieve-connect is missing" "sieve-connect"
[ -x /usr/sbin/opendkim ] || fail "opendkim is missing" "opendkim"
command -v opendkim-testkey >/dev/null || fail "opendkim-testkey is missing" "opendkim-tools"
/usr/sbin/dovecot --version >/dev/null 2>&1 || fail "dovecot does not run" "dovecot-imapd"
[ -e /usr/lib/dovecot/pop3 ] || fail "dovecot has no POP3 server" "dovecot-pop3d"
# nginx with the mail module, as tests/cluster/proxy.py runs it: its own prefix and config, no system files.
nginx_dir=$(mktemp -d)
printf 'load_module /usr/lib/nginx/modules/ngx_mail_module.so;\npid %s/nginx.pid;\nerror_log stderr;\nevents {}\nmail { auth_http 127.0.0.1:1/auth; server { listen 127.0.0.1:1; protocol imap; } }\n' "$nginx_dir" >"$nginx_dir/nginx.conf"
/usr/sbin/nginx -t -q -p "$nginx_dir" -c "$nginx_dir/nginx.conf" -e stderr >/dev/null 2>&1 \
  || { rm -rf "$nginx_dir"; fail "nginx cannot load its mail module" "nginx libnginx-mod-mail"; }
rm -rf "$nginx_dir"
[ -x /usr/bin/pebble ] || fail "pebble (the ACME test server) is missing" "pebble"
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
{ [ -n "$pgbin" ] && "$pgbin/initdb" --version >/dev/null 2>&1 && [ -x "$pgbin/pg_ctl" ]; } \
  || fail "PostgreSQL server binaries (initdb, pg_ctl) are missing" "postgresql"
redis-server --version >/dev/null 2>&1 || fail "redis-server does not run" "redis-server"
redis-cli --version >/dev/null 2>&1 || fail "redis-cli does not run" "redis-tools"
# Chromium as the browser tests start it: Playwright, headless, Debian's binary.
.venv/bin/python - <<'PY' 2>/dev/null || fail "Chromium does not start headless under Playwright" "chromium"
import sys
sys.path.insert(0, "tests")
from browser import CHROMIUM, CHROMIUM_ARGS
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, timeout=60000)
    page = browser.new_page()
    page.set_content("<p id=x>ok</p>")
    assert page.inner_text("#x") == "ok"
    browser.close()
PY
echo "check-tools: every test tool works"
