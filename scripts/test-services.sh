#!/usr/bin/env bash
# Start a private PostgreSQL and Redis on loopback for the second test pass.
# Prints the environment to use (DATABASE_URL, CELERY_BROKER_URL); "stop" stops them.
set -euo pipefail
dir=${MAILAPP_TEST_SERVICES:-/tmp/mailappliance-test-services}
pg_port=${PG_PORT:-55432}
redis_port=${REDIS_PORT:-56379}
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)

as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

if [ "${1:-start}" = stop ]; then
  [ -d "$dir/pg" ] && as_postgres "$pgbin/pg_ctl" -D "$dir/pg" -m fast stop >/dev/null 2>&1 || true
  [ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
  exit 0
fi

[ -n "$pgbin" ] || { echo "PostgreSQL is not installed (scripts/setup.sh test installs it)" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 1; }
mkdir -p "$dir"
if [ "$(id -u)" -eq 0 ]; then chown postgres "$dir"; chmod 755 "$dir"; fi
if [ ! -f "$dir/pg/PG_VERSION" ]; then
  as_postgres "$pgbin/initdb" -D "$dir/pg" -U postgres --auth=trust -E UTF8 >/dev/null
fi
if ! as_postgres "$pgbin/pg_ctl" -D "$dir/pg" status >/dev/null 2>&1; then
  as_postgres "$pgbin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w \
    -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
fi
if ! redis-cli -p "$redis_port" ping >/dev/null 2>&1; then
  # 256 databases: each test that starts Celery workers takes one of its own (tests/redisdb.py)
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes --databases 256 \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
  for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
echo "DATABASE_URL=postgres://postgres@127.0.0.1:$pg_port/mailappliance"
echo "CELERY_BROKER_URL=redis://127.0.0.1:$redis_port/0"
