# Find or start a PostgreSQL server for the test suite's second pass; sets PG_URL.
# Call find_postgres directly, not in $(...): a throwaway server lives as long as its shell.
# shellcheck shell=bash

PG_LOCAL_URL="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

pg_reachable() {
  uv run python - "$1" <<'PY' >/dev/null 2>&1
import sys
import psycopg
from sqlalchemy.engine import make_url
url = make_url(sys.argv[1])
psycopg.connect(host=url.host, port=url.port or 5432, user=url.username,
                password=url.password, dbname=url.database or "postgres", connect_timeout=3).close()
PY
}

pg_bindir() {
  local dir
  for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return 0; }
  return 1
}

# A throwaway cluster in a temporary directory, trust auth, on a free port; stopped on exit.
pg_start_throwaway() {
  local bindir="$1" dir port runner=()
  dir="$(mktemp -d /tmp/depotgrid-pg.XXXXXX)"
  port="$(uv run python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || as_root useradd --system --no-create-home postgres
    chown postgres "$dir"
    runner=(runuser -u postgres --)
  fi
  "${runner[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >/dev/null
  "${runner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1" start >/dev/null
  PG_STOP=("${runner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop)
  PG_DIR="$dir"
  trap 'pg_stop_throwaway' EXIT
  PG_URL="postgresql+psycopg://postgres@127.0.0.1:$port/postgres"
}

pg_stop_throwaway() {
  "${PG_STOP[@]}" >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
}

find_postgres() {
  PG_URL=""
  if [ -n "${DEPOTGRID_TEST_DATABASE_URL:-}" ]; then
    pg_reachable "$DEPOTGRID_TEST_DATABASE_URL" \
      || die "DEPOTGRID_TEST_DATABASE_URL is set but that server does not answer"
    PG_URL="$DEPOTGRID_TEST_DATABASE_URL"; return 0
  fi
  if pg_reachable "$PG_LOCAL_URL"; then PG_URL="$PG_LOCAL_URL"; return 0; fi
  local bindir
  if ! bindir="$(pg_bindir)"; then
    say "no PostgreSQL found; installing Debian's postgresql"
    apt_install postgresql || return 1
    bindir="$(pg_bindir)" || return 1
  fi
  say "starting a throwaway PostgreSQL from $bindir"
  pg_start_throwaway "$bindir"
}
