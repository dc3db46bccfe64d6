#!/usr/bin/env bash
# Start throwaway PostgreSQL and Redis servers on free loopback ports for one test run.
# Usage: eval "$(scripts/services.sh start DIR)"  ...  scripts/services.sh stop DIR
set -euo pipefail
cmd="$1"; dir="$2"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
as_pg() { if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pgbin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

case "$cmd" in
  start)
    bin="$(pgbin)"
    [ -n "$bin" ] || { echo "PostgreSQL is not installed (Debian package postgresql)" >&2; exit 1; }
    command -v redis-server >/dev/null || { echo "Redis is not installed (Debian package redis-server)" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" = "0" ] && chown postgres "$dir"
    pg_port="$(free_port)"; redis_port="$(free_port)"
    as_pg "$bin/initdb" -D "$dir/pg" -A trust -U postgres -E UTF8 --no-sync >"$dir/initdb.log" 2>&1
    as_pg "$bin/pg_ctl" -D "$dir/pg" -l "$dir/pg.log" -w -t 60 \
      -o "-p $pg_port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null
    psql -h 127.0.0.1 -p "$pg_port" -U postgres -qc "CREATE DATABASE infirmary_test" >/dev/null
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes \
      --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
    for _ in $(seq 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
    echo "$pg_port" > "$dir/pg.port"; echo "$redis_port" > "$dir/redis.port"
    echo "export TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:$pg_port/infirmary_test"
    echo "export TEST_REDIS_URL=redis://127.0.0.1:$redis_port/0"
    echo "export TEST_PG_DATA=$dir/pg TEST_PG_BIN=$bin"
    ;;
  stop)
    bin="$(pgbin)"
    [ -f "$dir/redis.port" ] && redis-cli -p "$(cat "$dir/redis.port")" shutdown nosave >/dev/null 2>&1 || true
    [ -d "$dir/pg" ] && as_pg "$bin/pg_ctl" -D "$dir/pg" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
