"""Settings for mailappliance.

This module is the only reader of the environment (12-factor): every
``MAILAPP_*`` variable, ``DATABASE_URL`` and ``CELERY_BROKER_URL`` is read
here, with defaults that run out of the box on one machine (SQLite in WAL
mode, a Celery broker on the local file system, loopback listeners).
Everything else reads ``django.conf.settings``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError as exc:  # a clear message beats a traceback deep in an agent
        raise RuntimeError(f"{name} must be a whole number, got {value!r}") from exc


def env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        return float(value)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a number, got {value!r}") from exc


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# --- where the data lives ----------------------------------------------------------------
MAILAPP_HOME = Path(env_str("MAILAPP_HOME", str(BASE_DIR / "var"))).resolve()
MAILAPP_MAIL_ROOT = MAILAPP_HOME / "mail"  # Maildir++ per mailbox: <domain>/<localpart>/
MAILAPP_SPOOL_DIR = MAILAPP_HOME / "spool"  # queued messages, one file per queue id
MAILAPP_TLS_DIR = MAILAPP_HOME / "tls"
MAILAPP_ARCHIVE_DIR = MAILAPP_HOME / "archive"  # mail of deleted mailboxes, kept or archived
MAILAPP_RUN_DIR = MAILAPP_HOME / "run"  # pid files, beat schedule, broker folders
# The auth service's socket (agents.authsvc): its directory is made 0700, the socket 0600.
MAILAPP_AUTH_SOCKET = Path(env_str("MAILAPP_AUTH_SOCKET", str(MAILAPP_RUN_DIR / "auth" / "socket")))

MAILAPP_HOSTNAME = env_str("MAILAPP_HOSTNAME", socket.getfqdn() or "localhost")
MAILAPP_BIND = env_str("MAILAPP_BIND", "127.0.0.1")

# --- listening ports (the standard ports are one setting away: MAILAPP_SMTP_PORT=25 …) ---
MAILAPP_SMTP_PORT = env_int("MAILAPP_SMTP_PORT", 2525)
MAILAPP_SUBMISSION_PORT = env_int("MAILAPP_SUBMISSION_PORT", 2587)
MAILAPP_SMTPS_PORT = env_int("MAILAPP_SMTPS_PORT", 2465)
MAILAPP_IMAP_PORT = env_int("MAILAPP_IMAP_PORT", 1143)
MAILAPP_IMAPS_PORT = env_int("MAILAPP_IMAPS_PORT", 1993)
MAILAPP_POP3_PORT = env_int("MAILAPP_POP3_PORT", 1110)
MAILAPP_MANAGESIEVE_PORT = env_int("MAILAPP_MANAGESIEVE_PORT", 4190)
MAILAPP_POP3S_PORT = env_int("MAILAPP_POP3S_PORT", 1995)
MAILAPP_HTTP_PORT = env_int("MAILAPP_HTTP_PORT", 8000)
# One line per web request in the log (gunicorn's access log); off by default to keep the log readable.
MAILAPP_WEB_ACCESS_LOG = env_bool("MAILAPP_WEB_ACCESS_LOG", False)

# Dev mode allows AUTH / LOGIN / USER before TLS, and only for clients on loopback.
# It is on by default exactly when the appliance listens on loopback only.
MAILAPP_DEV_MODE = env_bool("MAILAPP_DEV_MODE", is_loopback(MAILAPP_BIND))

# TLS: a self-signed certificate for MAILAPP_HOSTNAME is made on first start unless
# these point at a real one.
MAILAPP_TLS_CERT = Path(env_str("MAILAPP_TLS_CERT", str(MAILAPP_TLS_DIR / "cert.pem")))
MAILAPP_TLS_KEY = Path(env_str("MAILAPP_TLS_KEY", str(MAILAPP_TLS_DIR / "key.pem")))
# ACME (RFC 8555, docs/certificates.md): off until a directory URL is set. The certificate
# is proved with HTTP-01 on the web port and written to MAILAPP_TLS_CERT/KEY for every listener.
MAILAPP_ACME_DIRECTORY = env_str("MAILAPP_ACME_DIRECTORY", "")  # e.g. Let's Encrypt's directory URL
MAILAPP_ACME_EMAIL = env_str("MAILAPP_ACME_EMAIL", "")
MAILAPP_ACME_RENEW_DAYS = env_int("MAILAPP_ACME_RENEW_DAYS", 30)  # renew this long before expiry
# A CA bundle to trust for the ACME server's own HTTPS (a private CA, or Pebble in tests); empty: the system's.
MAILAPP_ACME_CA_BUNDLE = env_str("MAILAPP_ACME_CA_BUNDLE", "")
MAILAPP_ACME_DIR = MAILAPP_HOME / "acme"  # account key, challenge tokens, last result

# SRS for forwards: the secrets (newest first, mode 0600; `manage.py srs rotate` adds one),
# and how many days a bounce to an SRS address is still accepted.
MAILAPP_SRS_SECRETS_FILE = MAILAPP_HOME / "srs_secrets"
MAILAPP_SRS_VALIDITY_DAYS = env_int("MAILAPP_SRS_VALIDITY_DAYS", 21)
# ARC (RFC 8617): seal forwarded mail with the forwarding domain's DKIM key.
MAILAPP_ARC_SEAL = env_bool("MAILAPP_ARC_SEAL", True)

# DKIM: every new domain gets a signing key (publish its record from the DNS page).
MAILAPP_DKIM_AUTOGENERATE = env_bool("MAILAPP_DKIM_AUTOGENERATE", True)

# --- SMTP limits (Postfix-like defaults) --------------------------------------------------
MAILAPP_MAX_MESSAGE_SIZE = env_int("MAILAPP_MAX_MESSAGE_SIZE", 25 * 1024 * 1024)
MAILAPP_MAX_RECIPIENTS = env_int("MAILAPP_MAX_RECIPIENTS", 100)
MAILAPP_SMTP_MAX_LINE = env_int("MAILAPP_SMTP_MAX_LINE", 2048)
MAILAPP_SMTP_MAX_COMMANDS = env_int("MAILAPP_SMTP_MAX_COMMANDS", 1000)
MAILAPP_SMTP_IDLE_TIMEOUT = env_int("MAILAPP_SMTP_IDLE_TIMEOUT", 300)
MAILAPP_SMTP_MAX_SESSIONS_PER_IP = env_int("MAILAPP_SMTP_MAX_SESSIONS_PER_IP", 50)
# --- the login guard of every door (agents.loginguard; values and reasons in docs/security.md)
MAILAPP_AUTH_MAX_FAILURES = env_int("MAILAPP_AUTH_MAX_FAILURES", 5)
MAILAPP_AUTH_LOCKOUT_SECONDS = env_int("MAILAPP_AUTH_LOCKOUT_SECONDS", 300)
# Verified-credential cache of each agent (like Dovecot's auth_cache_ttl): seconds a right
# password is remembered as a keyed hash, so a client's next login costs no password hash.
# A password, active-flag or service-right change drops it at once; 0 turns it off.
MAILAPP_AUTH_CACHE_TTL = float(env_str("MAILAPP_AUTH_CACHE_TTL", "300"))
MAILAPP_AUTH_DELAY = env_float("MAILAPP_AUTH_DELAY", 2.0)
MAILAPP_AUTH_MAX_DELAY = env_float("MAILAPP_AUTH_MAX_DELAY", 8.0)
MAILAPP_AUTH_TRIES_PER_CONNECTION = env_int("MAILAPP_AUTH_TRIES_PER_CONNECTION", 3)
MAILAPP_AUTH_ACCOUNT_MAX_FAILURES = env_int("MAILAPP_AUTH_ACCOUNT_MAX_FAILURES", 10)
MAILAPP_AUTH_ACCOUNT_MIN_ADDRESSES = env_int("MAILAPP_AUTH_ACCOUNT_MIN_ADDRESSES", 3)
MAILAPP_AUTH_ACCOUNT_LOCK_SECONDS = env_int("MAILAPP_AUTH_ACCOUNT_LOCK_SECONDS", 300)
MAILAPP_AUTH_HASH_CONCURRENCY = env_int("MAILAPP_AUTH_HASH_CONCURRENCY", max(1, (os.cpu_count() or 2) // 2))
# Mail-protocol logins checked by one auth service process (agents.authsvc; the large profile's supervisor runs
# it and sets this for its mail agents) instead of in each agent process: one credential cache, one hash cap.
MAILAPP_AUTH_SERVICE = env_bool("MAILAPP_AUTH_SERVICE", False)
MAILAPP_AUTH_CONNECTIONS = env_int("MAILAPP_AUTH_CONNECTIONS", 16)  # per protocol process, to the auth service
MAILAPP_AUTH_TIMEOUT = env_float("MAILAPP_AUTH_TIMEOUT", 60.0)  # seconds a login waits for it, then a temporary failure
# --- /metrics (webadmin.dashboard.metrics; docs/metrics.md) ---------------------------------
# A scrape is allowed with "Authorization: Bearer <MAILAPP_METRICS_TOKEN>" (when set) or from
# an address in MAILAPP_METRICS_ALLOW (comma-separated addresses or networks; "" = none).
MAILAPP_METRICS_TOKEN = env_str("MAILAPP_METRICS_TOKEN", "")
MAILAPP_METRICS_ALLOW = os.environ.get("MAILAPP_METRICS_ALLOW", "127.0.0.0/8,::1")
# The self-test's bounce hop (webadmin.dashboard.selftest): an unknown user at a remote domain whose
# MX refuses it; empty = the hop reports "not configured".
MAILAPP_SELFTEST_BOUNCE_TO = env_str("MAILAPP_SELFTEST_BOUNCE_TO", "")
MAILAPP_MAX_HOPS = env_int("MAILAPP_MAX_HOPS", 50)  # Received: headers before a loop bounce

# --- IMAP / POP3 limits -------------------------------------------------------------------
MAILAPP_IMAP_MAX_LITERAL = env_int("MAILAPP_IMAP_MAX_LITERAL", 64 * 1024 * 1024)
MAILAPP_IMAP_MAX_LINE = env_int("MAILAPP_IMAP_MAX_LINE", 64 * 1024)
MAILAPP_IMAP_IDLE_TIMEOUT = env_int("MAILAPP_IMAP_IDLE_TIMEOUT", 30 * 60)
MAILAPP_IMAP_PREAUTH_TIMEOUT = env_int("MAILAPP_IMAP_PREAUTH_TIMEOUT", 3 * 60)  # before login, as Dovecot
MAILAPP_POP3_IDLE_TIMEOUT = env_int("MAILAPP_POP3_IDLE_TIMEOUT", 10 * 60)

# --- delivery -----------------------------------------------------------------------------
MAILAPP_QUEUE_MAX_AGE = env_int("MAILAPP_QUEUE_MAX_AGE", 5 * 24 * 3600)  # then bounce
MAILAPP_DELAY_WARNING_AFTER = env_int("MAILAPP_DELAY_WARNING_AFTER", 4 * 3600)
MAILAPP_RETRY_MIN = env_int("MAILAPP_RETRY_MIN", 300)  # first retry after 5 minutes …
MAILAPP_RETRY_MAX = env_int("MAILAPP_RETRY_MAX", 4 * 3600)  # … doubling up to 4 hours
MAILAPP_SMTP_CLIENT_TIMEOUT = env_int("MAILAPP_SMTP_CLIENT_TIMEOUT", 60)
MAILAPP_AUTOREPLY_DAYS = env_int("MAILAPP_AUTOREPLY_DAYS", 7)
# How long a delivery run holds a queued message; a worker killed mid-task frees it after this.
MAILAPP_DELIVERY_LEASE = env_int("MAILAPP_DELIVERY_LEASE", 600)
# Messages one delivery run takes at most: its own and other due ones (group commit per mailbox).
MAILAPP_DELIVERY_BATCH = env_int("MAILAPP_DELIVERY_BATCH", 50)
# Seconds a delivery task that delivered something waits for more due messages before it ends
# (a steady stream then needs no task per batch); 0 ends it as soon as nothing is due.
MAILAPP_DELIVERY_LINGER = env_float("MAILAPP_DELIVERY_LINGER", 0.2)
# Smarthost: "host:port"; empty means deliver directly to the MX hosts.
MAILAPP_SMARTHOST = env_str("MAILAPP_SMARTHOST", "")
MAILAPP_SMARTHOST_TLS = env_str("MAILAPP_SMARTHOST_TLS", "starttls")  # none|starttls|tls
MAILAPP_SMARTHOST_USER = env_str("MAILAPP_SMARTHOST_USER", "")
MAILAPP_SMARTHOST_PASSWORD = env_str("MAILAPP_SMARTHOST_PASSWORD", "")
# DNS: "host:port" of the resolver to ask (tests point it at a DNS server on loopback);
# empty means the system resolver.
MAILAPP_DNS_SERVER = env_str("MAILAPP_DNS_SERVER", "")
# Health's resolver probe asks for this name's NS records (it always exists).
MAILAPP_RESOLVER_PROBE_NAME = env_str("MAILAPP_RESOLVER_PROBE_NAME", "iana.org")
# Remote SMTP port to connect to (25 in production; tests run their MX on loopback).
MAILAPP_REMOTE_SMTP_PORT = env_int("MAILAPP_REMOTE_SMTP_PORT", 25)

# Mail authentication and anti-abuse (agents.mailauth, docs/mailauth.md).
MAILAPP_MAILAUTH = env_bool("MAILAPP_MAILAUTH", True)  # SPF/DKIM/DMARC/spam checks on the MX door
MAILAPP_RSPAMD_URL = env_str("MAILAPP_RSPAMD_URL", "")  # e.g. http://127.0.0.1:11333; empty = built-in rules
MAILAPP_CLAMD_SOCKET = env_str("MAILAPP_CLAMD_SOCKET", "")  # e.g. /run/clamav/clamd.ctl; empty = no antivirus
MAILAPP_DNSBL_ZONES = [z.strip() for z in env_str("MAILAPP_DNSBL_ZONES", "").split(",") if z.strip()]
MAILAPP_SPAM_JUNK_SCORE = float(env_str("MAILAPP_SPAM_JUNK_SCORE", "5.0"))  # for domains without a policy row
MAILAPP_SPAM_REJECT_SCORE = float(env_str("MAILAPP_SPAM_REJECT_SCORE", "15.0"))
MAILAPP_GREYLIST_DELAY = env_int("MAILAPP_GREYLIST_DELAY", 300)  # seconds before a retry is accepted
MAILAPP_GREYLIST_RETRY_WINDOW = env_int("MAILAPP_GREYLIST_RETRY_WINDOW", 24 * 3600)
MAILAPP_GREYLIST_EXPIRY = env_int("MAILAPP_GREYLIST_EXPIRY", 36 * 86400)  # a passed triplet idle this long
MAILAPP_RATE_SENDER_PER_HOUR = env_int("MAILAPP_RATE_SENDER_PER_HOUR", 1000)  # authenticated sender; 0 = off
MAILAPP_RATE_IP_PER_HOUR = env_int("MAILAPP_RATE_IP_PER_HOUR", 0)  # unauthenticated client IP; 0 = off
MAILAPP_RATE_RECIPIENTS = env_int("MAILAPP_RATE_RECIPIENTS", 0)  # per message from a sender; 0 = off
MAILAPP_JUNKFILTER = env_bool("MAILAPP_JUNKFILTER", True)  # each user's learned junk filter at local delivery

# Refusals at MAIL/RCPT/DATA kept for the trace (agents.queue.refusals, docs/smtp.md).
MAILAPP_REFUSAL_RETENTION_DAYS = env_int("MAILAPP_REFUSAL_RETENTION_DAYS", 30)
# The compromised-account guard (agents.queue.accountguard, docs/mailauth.md). Counts per
# authenticated account over the window; a domain's MailPolicy may set its own (0 = these).
MAILAPP_GUARD = env_bool("MAILAPP_GUARD", True)
MAILAPP_GUARD_WINDOW = env_int("MAILAPP_GUARD_WINDOW", 3600)  # seconds
MAILAPP_GUARD_RECIPIENTS = env_int("MAILAPP_GUARD_RECIPIENTS", 500)  # recipients accepted in the window
MAILAPP_GUARD_UNKNOWN_RECIPIENTS = env_int("MAILAPP_GUARD_UNKNOWN_RECIPIENTS", 25)  # refused as unknown
MAILAPP_GUARD_REMOTE_REJECTS = env_int("MAILAPP_GUARD_REMOTE_REJECTS", 25)  # bounced by remote hosts
MAILAPP_GUARD_NEW_ADDRESS_RECIPIENTS = env_int("MAILAPP_GUARD_NEW_ADDRESS_RECIPIENTS", 50)  # from a new client address
MAILAPP_GUARD_KNOWN_DAYS = env_int("MAILAPP_GUARD_KNOWN_DAYS", 90)  # a client address stays "known" this long
# --- process layout (agents.supervisor; figures and reasons in docs/scaling.md) --------------
# "small": the fewest processes (smtp, imap and pop3 in one process, one threaded web worker,
# a threaded Celery worker with beat on a thread). "large": a process per agent, forking web
# and Celery workers that scale with the cores. Unset: small on a machine with at most 2 cores
# or less than 2 GiB of memory, else large. Every count below is settable on its own.
def _small_machine() -> bool:
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        memory = 0
    return (os.cpu_count() or 1) <= 2 or 0 < memory < 2 * 1024**3


MAILAPP_PROFILE = env_str("MAILAPP_PROFILE", "small" if _small_machine() else "large")
if MAILAPP_PROFILE not in ("small", "large"):
    raise RuntimeError(f"MAILAPP_PROFILE must be small or large, got {MAILAPP_PROFILE!r}")
_small = MAILAPP_PROFILE == "small"
_cores = os.cpu_count() or 1
MAILAPP_COMBINED_AGENTS = env_bool("MAILAPP_COMBINED_AGENTS", _small)  # smtp+imap+pop3 in one process
MAILAPP_WEB_WORKERS = env_int("MAILAPP_WEB_WORKERS", 1 if _small else max(2, min(_cores, 8)))
MAILAPP_WEB_THREADS = env_int("MAILAPP_WEB_THREADS", 8 if _small else 4)
MAILAPP_CELERY_POOL = env_str("MAILAPP_CELERY_POOL", "threads" if _small else "prefork")
MAILAPP_CELERY_CONCURRENCY = env_int("MAILAPP_CELERY_CONCURRENCY", 4 if _small else max(2, min(_cores, 8)))
MAILAPP_EMBEDDED_BEAT = env_bool("MAILAPP_EMBEDDED_BEAT", _small)  # beat on a thread of the worker
# smtp agent processes sharing the SMTP ports (SO_REUSEPORT; agents/listeners.py), each one a supervisor child;
# with MAILAPP_COMBINED_AGENTS the smtp server runs inside the one mail agents process instead.
MAILAPP_SMTP_PROCESSES = max(1, env_int("MAILAPP_SMTP_PROCESSES", 1 if _small else max(1, min(_cores, 8))))
# imap and pop3 agent processes the same way (docs/scaling.md); sessions in different processes meet only in
# the store's index (\Recent claims, MODSEQ, keywords), the maildrop lock (flock) and the database (login guard).
# One per core in the large profile: they all ask the one auth service (MAILAPP_AUTH_SERVICE), so a user's
# password is hashed once however many processes serve them, and at most MAILAPP_AUTH_HASH_CONCURRENCY at once.
MAILAPP_IMAP_PROCESSES = max(1, env_int("MAILAPP_IMAP_PROCESSES", 1 if _small else max(1, min(_cores, 8))))
MAILAPP_POP3_PROCESSES = max(1, env_int("MAILAPP_POP3_PROCESSES", 1 if _small else max(1, min(_cores, 8))))
# The supervisor imports the children's code once and forks them (copy-on-write) instead of
# starting a new interpreter for each.
MAILAPP_PRELOAD = env_bool("MAILAPP_PRELOAD", _small)

# --- several hosts (agents.cluster; docs/scaling.md) --------------------------------------
# This node's name: its AgentProcess rows, its lease row, its Celery worker name and delivery
# queue (deliver.<node>), and the home node of the mailboxes it creates. Default: the host name.
MAILAPP_NODE = env_str("MAILAPP_NODE", socket.gethostname() or "localhost")[:64]
# The address other nodes (and a mail proxy in front) reach this node's listeners on.
MAILAPP_NODE_ADDRESS = env_str("MAILAPP_NODE_ADDRESS", MAILAPP_BIND)
# Seconds a node's lease (and the periodic-work leader's) lasts without renewal; the supervisor
# renews every 2 s, the leader every third of this.
MAILAPP_NODE_LEASE = env_float("MAILAPP_NODE_LEASE", 15.0)
# Cluster mode: several nodes share one PostgreSQL and one Redis. Message bodies are spooled in
# PostgreSQL (any node's worker can deliver them) and mailboxes are delivered on their home node.
MAILAPP_CLUSTER = env_bool("MAILAPP_CLUSTER", False)

# A mail proxy in front (nginx's mail module; docs/scaling.md). Addresses or networks, comma-separated,
# whose connections to our IMAP, POP3 and SMTP plain ports start with a PROXY protocol header (v1 or
# v2) giving the client's address, and may log in with the proxy's one-time token. "" = none: a
# PROXY header from anyone is then an ordinary (bad) command.
MAILAPP_TRUSTED_PROXIES = [p.strip() for p in env_str("MAILAPP_TRUSTED_PROXIES", "").split(",") if p.strip()]
for _proxy in MAILAPP_TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_proxy, strict=False)
    except ValueError:
        raise RuntimeError(f"MAILAPP_TRUSTED_PROXIES: {_proxy!r} is not an IP address or network") from None
# /auth/mailproxy (nginx's auth_http): when set, every request must carry "X-Auth-Key: <this>";
# unset, only loopback and MAILAPP_TRUSTED_PROXIES may ask.
MAILAPP_AUTH_HTTP_SECRET = env_str("MAILAPP_AUTH_HTTP_SECRET", "")
# Where a node's webmail answers, for a user homed there who signed in on another node: a template
# with {address} (the node's MAILAPP_NODE_ADDRESS), {node} (its name) and {port} (MAILAPP_HTTP_PORT).
MAILAPP_NODE_WEB_URL = env_str("MAILAPP_NODE_WEB_URL", "http://{address}:{port}")

# How often agents re-check the configuration generation (DESIGN §3: within 2 seconds).
MAILAPP_CONFIG_REFRESH = float(env_str("MAILAPP_CONFIG_REFRESH", "0.5"))

# --- Django -------------------------------------------------------------------------------
DEBUG = env_bool("MAILAPP_DEBUG", False)
SECRET_KEY_FILE = MAILAPP_HOME / "secret_key"


def _secret_key() -> str:
    """Read or make the per-installation secret key (kept in MAILAPP_HOME, never in git).

    Several processes may start at once on a fresh home (the supervisor's children, the nodes of
    a test cluster). The key is written to a private file first and linked into place, so exactly
    one key wins, every process reads that one, and none ever reads a half-written file.
    """
    key = os.environ.get("MAILAPP_SECRET_KEY")
    if key:
        return key
    try:
        return SECRET_KEY_FILE.read_text().strip()
    except FileNotFoundError:
        pass
    except OSError:
        return "insecure-unwritable-home"
    from django.core.management.utils import get_random_secret_key

    draft = SECRET_KEY_FILE.with_name(f".{SECRET_KEY_FILE.name}.{os.getpid()}.{os.urandom(4).hex()}")
    try:
        SECRET_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(get_random_secret_key())
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(draft, SECRET_KEY_FILE)
        except FileExistsError:
            pass  # another process linked its key first: use that one
        finally:
            draft.unlink()
        return SECRET_KEY_FILE.read_text().strip()
    except OSError:
        return "insecure-unwritable-home"


SECRET_KEY = _secret_key()
# The HMAC key of stored app passwords (docs/app-passwords.md). Derived from SECRET_KEY unless
# set; changing either one invalidates every app password.
MAILAPP_APP_PASSWORD_KEY = env_str(
    "MAILAPP_APP_PASSWORD_KEY", hashlib.sha256(b"mailapp app passwords\0" + SECRET_KEY.encode()).hexdigest()
)
ALLOWED_HOSTS = [h for h in env_str("MAILAPP_ALLOWED_HOSTS", "*").split(",") if h]
# Behind a TLS-terminating proxy (the usual way to put the web faces on 443): cookies
# only over HTTPS, and the proxy's X-Forwarded-Proto is believed.
MAILAPP_HTTPS = env_bool("MAILAPP_HTTPS", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = MAILAPP_HTTPS
SESSION_COOKIE_HTTPONLY = True
if MAILAPP_HTTPS:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [o for o in env_str("MAILAPP_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI / Redoc served locally, no CDN
    "django_filters",
    "webadmin",
    "webadmin.dashboard",
    "agents",
]

MIDDLEWARE = [
    "mailappliance.bodysize.OversizeBodyMiddleware",  # 413 before anything reads a too-large body
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # gunicorn serves static files too
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "webadmin.dashboard.middleware.SecondFactorMiddleware",  # TOTP guards /admin/ too
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "mailappliance.urls"
WSGI_APPLICATION = "mailappliance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "webadmin.dashboard.context.guard_banner",  # the account guard's alert
            ],
        },
    },
]

DATABASE_URL = env_str("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("MAILAPP_SQLITE_PATH", str(MAILAPP_HOME / "mailappliance.sqlite3")),
            # WAL lets agents read while the web and the workers write; IMMEDIATE
            # transactions take the write lock up front instead of failing half-way.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 30,
            },
            "TEST": {"NAME": str(MAILAPP_HOME / "test.sqlite3")},
            "CONN_MAX_AGE": 600,  # agents keep their connection; close_old_connections checks it
        }
    }

if MAILAPP_CLUSTER and not DATABASES["default"]["ENGINE"].endswith(("postgresql", "postgis")):
    raise RuntimeError("MAILAPP_CLUSTER=1 needs PostgreSQL: set DATABASE_URL=postgres://… on every node")
if MAILAPP_CLUSTER and not env_str("CELERY_BROKER_URL", "").startswith(("redis", "amqp")):
    raise RuntimeError("MAILAPP_CLUSTER=1 needs a shared broker: set CELERY_BROKER_URL=redis://… on every node")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Staff and mailbox passwords alike (webadmin.passwords): length, similarity to the name/address, common.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Django's own hashers (same hashes), each behind a per-process cap on concurrent hashing
# (MAILAPP_AUTH_HASH_CONCURRENCY), so password guessers queue instead of taking every core.
PASSWORD_HASHERS = [
    "mailappliance.hashers.PBKDF2PasswordHasher",
    "mailappliance.hashers.PBKDF2SHA1PasswordHasher",
    "mailappliance.hashers.Argon2PasswordHasher",
    "mailappliance.hashers.BCryptSHA256PasswordHasher",
    "mailappliance.hashers.ScryptPasswordHasher",
]
# The test suite makes hundreds of mailboxes: it may ask for a cheap hasher (never in production).
if env_bool("MAILAPP_TEST_FAST_HASHER", False):
    PASSWORD_HASHERS = [
        "mailappliance.hashers.MD5PasswordHasher",
        "mailappliance.hashers.PBKDF2PasswordHasher",
    ]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("MAILAPP_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = MAILAPP_HOME / "static"
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []

LOGIN_URL = "/dashboard/login/"  # the one staff login (login guard, TOTP)

# --- cache (shared by the gunicorn workers; login failures are counted in the database) ---
MAILAPP_CACHE_PREFIX = env_str("MAILAPP_CACHE_PREFIX", "mailapp")
_cache_broker = env_str("CELERY_BROKER_URL", "")
if _cache_broker.startswith("redis"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env_str("MAILAPP_CACHE_URL", _cache_broker),
            "KEY_PREFIX": MAILAPP_CACHE_PREFIX,
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(MAILAPP_RUN_DIR / "cache"),
            "KEY_PREFIX": MAILAPP_CACHE_PREFIX,
        }
    }

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "webadmin.api.authentication.ThrottledTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "mailappliance provisioning API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "webadmin.api.schema.add_error_responses",
    ],
}

# --- Celery -------------------------------------------------------------------------------
# The embedded default needs no server: a broker on the local file system. Set
# CELERY_BROKER_URL=redis://… to move to Redis with the same code.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost//")
_broker_dir = MAILAPP_RUN_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    try:
        _broker_dir.mkdir(parents=True, exist_ok=True)  # the transport does not make it itself
    except OSError:
        pass
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(MAILAPP_RUN_DIR / "broker-control"),
        "store_processed": False,
        # kombu polls the folder; its 1 s default caps a worker at ~concurrency tasks per second.
        "polling_interval": float(env_str("MAILAPP_BROKER_POLL", "0.05")),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
if CELERY_BROKER_URL.startswith("filesystem"):
    CELERY_BROKER_TRANSPORT = "mailappliance.fsbroker:Transport"  # whole message files only (see there)
CELERY_TASK_ACKS_LATE = True  # a worker killed mid-task leaves its task to another
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes the database connection before and after every task: a new
# connection per delivery task (on PostgreSQL a TCP connect and login). Kept instead, and
# checked before and after each task as Django checks it per request (mailappliance.celery).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]  # never pickle: also why mailappliance.celery may quiet the run-as-root warning
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(MAILAPP_RUN_DIR / "celerybeat-schedule")
# Only the node holding the "periodic" lease sends the schedule's tasks (agents.cluster.beat).
CELERY_BEAT_SCHEDULER = "agents.cluster.beat:LeaderScheduler"
CELERY_BEAT_SCHEDULE: dict = {
    "sweep-queue": {"task": "agents.tasks.sweep_queue", "schedule": 30.0},
    "poll-external-sources": {"task": "agents.fetch.tasks.poll_sources", "schedule": 60.0},  # agents.fetch
    "renew-certificate": {"task": "agents.tasks.renew_certificate", "schedule": 12 * 3600.0},  # agents.acme
    "learn-junk": {"task": "agents.tasks.learn_junk", "schedule": 60.0},  # Junk moves teach the junk filter
    "expire-refusals": {"task": "agents.tasks.expire_refusals", "schedule": 3600.0},
    "account-guard": {"task": "agents.tasks.account_guard_sweep", "schedule": 60.0},
    # The dashboard's backup schedules and their monthly restore tests (agents.backup.schedule).
    "backup-schedules": {"task": "agents.tasks.backup_tick", "schedule": 60.0},
}
# Scheduled backups (docs/backup.md): on when MAILAPP_BACKUP_DIR is set, keyed by a key file or a passphrase.
MAILAPP_BACKUP_DIR = env_str("MAILAPP_BACKUP_DIR", "")
MAILAPP_BACKUP_KEY_FILE = env_str("MAILAPP_BACKUP_KEY_FILE", "")
MAILAPP_BACKUP_PASSPHRASE = env_str("MAILAPP_BACKUP_PASSPHRASE", "")
MAILAPP_BACKUP_INTERVAL_HOURS = env_float("MAILAPP_BACKUP_INTERVAL_HOURS", 24.0)
MAILAPP_BACKUP_KEEP = env_int("MAILAPP_BACKUP_KEEP", 14)
if MAILAPP_BACKUP_DIR:
    CELERY_BEAT_SCHEDULE["backup"] = {"task": "agents.tasks.scheduled_backup",
                                      "schedule": MAILAPP_BACKUP_INTERVAL_HOURS * 3600.0}
    # The automatic restore test (agents.backup.check), shown on the dashboard's Health.
    CELERY_BEAT_SCHEDULE["restore-test"] = {"task": "agents.tasks.restore_test", "schedule": 30 * 86400.0}
# Tests that run without a worker set this to run tasks in-process.
CELERY_TASK_ALWAYS_EAGER = env_bool("MAILAPP_CELERY_EAGER", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("MAILAPP_LOG_LEVEL", "INFO")},
    # A too-large request body is the client's mistake: a warning, no traceback (mailappliance.bodysize).
    "filters": {"quiet_too_big": {"()": "mailappliance.bodysize.QuietTooBig"}},
    "loggers": {"django.security.RequestDataTooBig": {"filters": ["quiet_too_big"]}},
}
