# pg.sh - sourced after tests/lib/common.sh by the cases that need a real
# PostgreSQL server (the relay's cluster store, relay/store_pg.c).
#
#   pg_start  -> a PostgreSQL 15 server of Debian's postgresql package, its
#                data directory and unix socket in a fresh mktemp dir, no
#                TCP listener; $PGDSN is the libpq URI of its database
#                "sealbox" (user sealbox, trust over the socket), $PGSOCK
#                the socket directory.  Stopped (and its directory
#                removed) by the case's exit trap, pass or fail; its log is
#                $T/pg.log.
#   pg_stop   -> stops it now (fast shutdown); fails if it will not stop.
#   pg_sql SQL -> runs SQL with psql, unaligned and without headers.
#
# One server per case file: initdb and start take about two seconds.  As
# root (make check) the server runs as the postgres user through runuser,
# since PostgreSQL refuses to run as root.

PG_BIN=/usr/lib/postgresql/15/bin
PGDIR=

_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pg_start() {
	local b
	for b in initdb pg_ctl postgres psql createdb; do
		[ -x "$PG_BIN/$b" ] ||
			fail "$PG_BIN/$b missing: install Debian's postgresql package (scripts/deps.sh)"
	done
	PGDIR=$(mktemp -d /tmp/sealbox-pg.XXXXXX)
	on_exit "pg_stop_quiet"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || fail "no postgres user (Debian's postgresql package creates it)"
		chown postgres: "$PGDIR"
	fi
	PGSOCK=$PGDIR
	# --no-sync: the cluster's own files need no fsync for a throwaway
	# test cluster; the server itself runs with fsync on (the default),
	# as the relay's durability promise assumes.
	_pg_as "$PG_BIN/initdb" -D "$PGDIR/data" -U sealbox --auth=trust -E UTF8 \
		--no-sync --no-instructions >"$T/pg-initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -3 "$T/pg-initdb.log")"
	_pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/log" -w -t 30 \
		-o "-c listen_addresses='' -k $PGDIR -c max_connections=60 -c shared_buffers=32MB" \
		start >/dev/null 2>&1 || { cp "$PGDIR/log" "$T/pg.log" 2>/dev/null; fail "PostgreSQL did not start: $(tail -3 "$T/pg.log")"; }
	_pg_as "$PG_BIN/createdb" -h "$PGDIR" -U sealbox sealbox || fail "createdb failed"
	PGDSN="postgresql:///sealbox?host=$PGDIR&user=sealbox"
	export PGDSN PGSOCK
}

pg_sql() {
	_pg_as "$PG_BIN/psql" -h "$PGDIR" -U sealbox -d sealbox -XAtq -v ON_ERROR_STOP=1 -c "$1"
}

pg_stop() {
	[ -n "$PGDIR" ] || return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 30 stop >/dev/null ||
		fail "PostgreSQL did not stop"
	cp "$PGDIR/log" "$T/pg.log" 2>/dev/null || true
	rm -rf "$PGDIR"
	PGDIR=
}

# The exit trap's version: never fails, kills what will not stop.
pg_stop_quiet() {
	local pid
	[ -n "$PGDIR" ] || return 0
	_pg_as "$PG_BIN/pg_ctl" -D "$PGDIR/data" -m fast -w -t 10 stop >/dev/null 2>&1 ||
		{ pid=$(head -1 "$PGDIR/data/postmaster.pid" 2>/dev/null) && [ -n "$pid" ] && kill -9 "$pid"; }
	cp "$PGDIR/log" "$T/pg.log" 2>/dev/null || true
	rm -rf "$PGDIR"
	PGDIR=
}
