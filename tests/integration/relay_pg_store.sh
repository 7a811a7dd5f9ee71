#!/usr/bin/env bash
# The relay's PostgreSQL store (relay/store_pg.c) against a real
# PostgreSQL 15 server: tests/unit/test_relay_store.c's cases, which the
# unit run does on SQLite, run again on PostgreSQL (SB_TEST_PG), plus the
# cluster-only ones (blob chunks, the once-per-cluster sweep claim, news
# between two store connections, the transparency log and links, a newer schema refused, an unreachable
# server named in one line).
source "$(dirname "$0")/../lib/common.sh"
source "$SB_TOP/tests/lib/pg.sh"

bin="$SB_BUILD/tests/test_relay_store"
[ -x "$bin" ] || fail "$bin not built (run make)"
pg_start
out=$(SB_TEST_PG="$PGDSN" "$bin" 2>&1) || { echo "$out" >&2; fail "store cases failed"; }
# Both groups ran, every case of each passed: nothing skipped.
grep -q '^\[  PASSED  \] 10 test(s)\.' <<<"$out" || { echo "$out" >&2; fail "sqlite group incomplete"; }
grep -q '^\[  PASSED  \] 15 test(s)\.' <<<"$out" || { echo "$out" >&2; fail "postgresql group incomplete"; }
pg_stop
