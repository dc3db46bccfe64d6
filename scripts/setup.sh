#!/usr/bin/env bash
# Set up what `make run` (mode "run") or `make test` (mode "test") needs, reusing what exists.
# Debian packages are installed with apt-get when run as root; otherwise we name the missing ones.
set -euo pipefail
mode="${1:-run}"
cd "$(dirname "$0")/.."

debs_missing=()
need_deb() {  # need_deb PACKAGE [TEST-COMMAND...]: missing if the test fails
  local pkg="$1"; shift
  if [ "$#" -gt 0 ]; then "$@" >/dev/null 2>&1 && return 0; fi
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" && return 0
  debs_missing+=("$pkg")
}

# Runtime: WeasyPrint's libraries, fonts for Latin/accented/CJK names, Node for the asset install.
need_deb python3-venv python3 -c 'import venv, ensurepip'
need_deb libpango-1.0-0
need_deb libpangoft2-1.0-0
need_deb libharfbuzz-subset0
need_deb fonts-noto-cjk
need_deb fonts-dejavu-core
need_deb npm command -v npm
if [ "$mode" = "test" ]; then
  need_deb postgresql bash -c 'ls /usr/lib/postgresql/*/bin/initdb'
  need_deb postgresql-contrib bash -c 'ls /usr/share/postgresql/*/extension/pg_trgm.control'
  need_deb redis-server command -v redis-server
  need_deb chromium test -x /usr/bin/chromium
  need_deb nginx-light command -v nginx
  need_deb poppler-utils command -v pdftotext
  need_deb openssl command -v openssl
fi

if [ "${#debs_missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "Installing Debian packages: ${debs_missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${debs_missing[@]}" >/dev/null
    # Debian starts these services on install; the test harness runs its own throwaway ones.
  else
    echo "Missing Debian packages: ${debs_missing[*]}" >&2
    echo "Install them with: sudo apt-get install ${debs_missing[*]}" >&2
    exit 1
  fi
fi

# Python virtualenv, reinstalled only when the pinned requirements change.
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || {
  echo "Infirmary needs Python 3.11 (found $("$PY" --version 2>&1)). Set PYTHON=/path/to/python3.11." >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
reqs=requirements.txt; [ "$mode" = "test" ] && reqs=requirements-dev.txt
stamp=".venv/.stamp-$(basename "$reqs" .txt)"
want="$(cat requirements.txt "$reqs" | sha256sum | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/pip install -q --disable-pip-version-check -r "$reqs"
  echo "$want" > "$stamp"
fi

# Front-end assets: pinned in package-lock.json, copied into app/static/vendor.
lock="$(sha256sum package-lock.json | cut -c1-16)"
if [ "$(cat node_modules/.stamp 2>/dev/null)" != "$lock" ] || [ ! -f app/static/vendor/htmx/htmx.min.js ]; then
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$lock" > node_modules/.stamp
  .venv/bin/python scripts/assets.py
fi
