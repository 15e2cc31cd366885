#!/usr/bin/env bash
# Makes a PostgreSQL server answer on 127.0.0.1:5432 and writes a URL for
# tests to .ci/.pg-url: uses a running server, else starts the installed
# one, else installs Debian's postgresql package first. Runs as root (CI and
# this project's machines); initdb and the server run as the postgres user.
set -euo pipefail
cd "$(dirname "$0")"
ready() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if ! ready; then
  if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
  fi
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  if [ -z "$(pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main"')" ]; then
    pg_createcluster "$version" main >/dev/null
  fi
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 1 60); do ready && break; sleep 0.5; done
  ready || { echo "PostgreSQL did not start"; exit 1; }
fi

# Trust authentication on loopback (as on this project's machines) needs no
# password; a stock Debian cluster wants one, so set it through the local
# socket, where the postgres user is let in by peer authentication.
url="postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
if ! psql "$url" -Atc 'SELECT 1' >/dev/null 2>&1; then
  runuser -u postgres -- psql -qc "ALTER USER postgres PASSWORD 'mainstay-ci'" >/dev/null
  url="postgres://postgres:mainstay-ci@127.0.0.1:5432/postgres?sslmode=disable"
  psql "$url" -Atc 'SELECT 1' >/dev/null
fi
echo "$url" > .pg-url
