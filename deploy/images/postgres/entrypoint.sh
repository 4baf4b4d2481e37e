#!/bin/bash
# hookflow-postgres:dev entrypoint: PostgreSQL 15 (Debian's package).
#
#   POSTGRES_PASSWORD   required: the password of the superuser `postgres`
#                       (applied on every start, so the variable is the truth)
#   POSTGRES_DATABASES  optional: comma-separated databases to create when
#                       missing, owned by postgres
#   PGDATA              data directory (default /var/lib/postgresql/data)
#
# First start: initdb. Every start: a private server (Unix socket only) sets
# the password and creates the missing databases, then the real server
# listens on all addresses, port 5432, password (SCRAM) auth over TCP. So once
# `pg_isready` answers, the databases exist. Arguments are passed to
# `postgres` (`-c name=value` overrides a setting). SIGTERM or SIGINT stop the
# server in fast mode (open sessions are ended, the data is checkpointed).
# Runs as the postgres user; started as root, it fixes the data directory's
# owner and drops to postgres.
set -euo pipefail

: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required (the password of the superuser postgres)}"
export PGDATA=${PGDATA:-/var/lib/postgresql/data}
socket=/var/run/postgresql

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" "$socket"
	chown postgres:postgres "$PGDATA" "$socket"
	chmod 700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -w "$PGDATA" ]; then
	echo "postgres: $PGDATA is not writable by $(id -un) (uid $(id -u)); chown it, or start the container as root" >&2
	exit 1
fi

settings=(-c jit=off -c max_connections="${POSTGRES_MAX_CONNECTIONS:-200}" -c unix_socket_directories="$socket")

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	echo "postgres: initializing $PGDATA" >&2
	initdb --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
		--auth-local=trust --auth-host=scram-sha-256 \
		--pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") >/dev/null
	printf '\n# hookflow-postgres: every address, password auth\nhost all all all scram-sha-256\n' >>"$PGDATA/pg_hba.conf"
fi

# Private server: no TCP, so nothing connects before the setup is done.
pg_ctl --wait --silent --options="-c listen_addresses='' ${settings[*]}" start
psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --username=postgres --dbname=postgres \
	--set=databases="${POSTGRES_DATABASES:-}" <<'SQL'
\getenv password POSTGRES_PASSWORD
ALTER ROLE postgres PASSWORD :'password';
SELECT format('CREATE DATABASE %I OWNER postgres', name)
  FROM (SELECT DISTINCT trim(d) AS name FROM unnest(string_to_array(:'databases', ',')) AS d) AS wanted
 WHERE name <> '' AND NOT EXISTS (SELECT FROM pg_database WHERE datname = name)
\gexec
SQL
pg_ctl --wait --silent --mode=fast stop

postgres -c listen_addresses='*' -c port=5432 "${settings[@]}" "$@" &
pid=$!
# postgres takes SIGTERM as a "smart" shutdown, which waits for every client
# to disconnect (Temporal never does); SIGINT is the fast one.
stopping=
trap 'stopping=1; kill -INT "$pid" 2>/dev/null' TERM INT
status=0
wait "$pid" || status=$?
# A trapped signal ends a wait early: wait again, for the server's own status.
while [ -n "$stopping" ]; do
	stopping= status=0
	wait "$pid" || status=$?
done
exit "$status"
