#!/usr/bin/env bash
# The whole suite: lint and types, then pytest on SQLite, then on throwaway PostgreSQL + Redis.
# REQUIRE_SERVICES=1 (CI) makes a missing PostgreSQL or Redis a failure instead of a skip.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"; ruff check app tests bench scripts config.py wsgi.py
echo "== mypy"; mypy app

echo "== pytest on SQLite"
env -u TEST_DATABASE_URL -u TEST_REDIS_URL pytest "$@"

have_pg=0; have_redis=0
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && have_pg=1
command -v redis-server >/dev/null 2>&1 && have_redis=1
if [ "$have_pg$have_redis" != "11" ]; then
  if [ "${REQUIRE_SERVICES:-0}" = "1" ]; then
    echo "REQUIRE_SERVICES=1 but PostgreSQL ($have_pg) or Redis ($have_redis) is not installed" >&2
    exit 1
  fi
  echo "== PostgreSQL + Redis run SKIPPED: install postgresql and redis-server to run it"
  exit 0
fi

dir="$(mktemp -d /tmp/infirmary-services.XXXXXX)"
trap 'scripts/services.sh stop "$dir"' EXIT
eval "$(scripts/services.sh start "$dir")"
echo "== pytest on PostgreSQL + Redis ($TEST_DATABASE_URL)"
pytest "$@"
