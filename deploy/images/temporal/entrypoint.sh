#!/bin/bash
# hookflow-temporal:dev entrypoint: the Temporal server on PostgreSQL.
#
#   DB_HOST             required: the PostgreSQL host
#   DB_PORT             default 5432
#   DB_USER             default postgres (must be allowed to create databases)
#   DB_PASSWORD         required
#   NUM_HISTORY_SHARDS  default 4 (fixed when the database is created)
#   DB_WAIT_SECONDS     how long to wait for the database, default 120
#   TEMPORAL_BROADCAST_ADDRESS  the address other cluster hosts reach this one
#                       on; default: the container's own IP
#
# Waits for the database, creates the databases `temporal` and
# `temporal_visibility` when missing, sets up or updates their schemas (every
# step is idempotent: a restarted container goes through them again
# harmlessly), then runs the server with /etc/temporal/config.yaml and
# /etc/temporal/dynamicconfig.yaml. It does not create any namespace
# (`hookflow setup` does).
set -euo pipefail

: "${DB_HOST:?DB_HOST is required (the PostgreSQL host)}"
: "${DB_PASSWORD:?DB_PASSWORD is required}"
export DB_HOST DB_PASSWORD
export DB_PORT=${DB_PORT:-5432} DB_USER=${DB_USER:-postgres} NUM_HISTORY_SHARDS=${NUM_HISTORY_SHARDS:-4}
export PGHOST=$DB_HOST PGPORT=$DB_PORT PGUSER=$DB_USER PGPASSWORD=$DB_PASSWORD PGDATABASE=postgres PGCONNECT_TIMEOUT=5
schema=/etc/temporal/schema/postgresql/v12

log() { echo "temporal-entrypoint: $*" >&2; }

wait_for_db() {
	local deadline=$((SECONDS + ${DB_WAIT_SECONDS:-120}))
	until psql --no-psqlrc --quiet --tuples-only --command='SELECT 1' >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			log "PostgreSQL at $DB_HOST:$DB_PORT is not reachable as $DB_USER after ${DB_WAIT_SECONDS:-120}s:"
			psql --no-psqlrc --command='SELECT 1' >/dev/null || true
			exit 1
		fi
		sleep 1
	done
}

create_database() {
	# Another server starting at the same time may win the race: what
	# counts is that the database exists afterwards.
	psql --no-psqlrc --quiet --set=ON_ERROR_STOP=1 --set=db="$1" >/dev/null 2>&1 <<-'SQL' || true
		SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
		\gexec
	SQL
	if [ "$(psql --no-psqlrc --tuples-only --no-align --set=db="$1" <<<"SELECT count(*) FROM pg_database WHERE datname = :'db'")" != 1 ]; then
		log "could not create database $1"
		exit 1
	fi
}

sql_tool() {
	SQL_PASSWORD=$DB_PASSWORD temporal-sql-tool --plugin postgres12 --endpoint "$DB_HOST" --port "$DB_PORT" \
		--user "$DB_USER" --database "$1" "${@:2}"
}

setup_schema() {
	# setup-schema -v 0.0 creates the version tables and leaves a newer
	# version alone; update-schema applies the versioned changes not yet in.
	# Their step-by-step log is shown only when they fail.
	local attempt out
	for attempt in 1 2 3; do
		if out=$(sql_tool "$1" setup-schema -v 0.0 2>&1 && sql_tool "$1" update-schema -d "$schema/$2/versioned" 2>&1); then
			return 0
		fi
		printf '%s\n' "$out" >&2
		log "schema of $1 failed (attempt $attempt)"
		sleep 2
	done
	return 1
}

wait_for_db
log "PostgreSQL at $DB_HOST:$DB_PORT is up"
create_database temporal
create_database temporal_visibility
setup_schema temporal temporal
setup_schema temporal_visibility visibility
log "schemas are up to date"

if [ -z "${TEMPORAL_BROADCAST_ADDRESS:-}" ]; then
	TEMPORAL_BROADCAST_ADDRESS=$(hostname -i | awk '{print $1}')
fi
export TEMPORAL_BROADCAST_ADDRESS
log "broadcast address $TEMPORAL_BROADCAST_ADDRESS, $NUM_HISTORY_SHARDS history shards"
exec temporal-server --config-file /etc/temporal/config.yaml --allow-no-auth start
