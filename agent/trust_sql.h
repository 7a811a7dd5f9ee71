/*
 * trust_sql.h - private to trust.c and trust_store.c: how their SQL names
 * the sealed columns (trust_store.c's sb_seal / sb_open functions).
 */
#ifndef SB_AGENT_TRUST_SQL_H
#define SB_AGENT_TRUST_SQL_H

#include <stdint.h>

struct sqlite3;

/*
 * The sealed columns (trust_store.c): a value opens only at its own table,
 * column, address and row id; sb_open gives NULL for one that does not.
 * Pins and approvals are keyed (address, device_id), contacts (address,
 * 0), alerts (address, id), the log head ('', 1).
 */
#define SEAL(t, c, a, id, v) "sb_seal('" t "', '" c "', " a ", " id ", " v ")"
#define OPIN(c)   "sb_open('trust_pins', '" c "', address, device_id, " c ")"
#define OCON(c)   "sb_open('trust_contacts', '" c "', address, 0, " c ")"
#define OALERT(c) "sb_open('trust_alerts', '" c "', address, id, " c ")"
#define OLOG(c)   "sb_open('trust_log', '" c "', '', id, " c ")"
/* The alerts whose every field opens, as (t, address, e, n, o, nw, c, id). */
#define ALERT_ROWS "(SELECT " OALERT("time") " AS t, address, " OALERT("event") " AS e, " \
	OALERT("n") " AS n, " OALERT("old_hash") " AS o, " OALERT("new_hash") " AS nw, " \
	OALERT("closed") " AS c, id FROM trust_alerts WHERE ?1 IS NULL OR address = ?1)" \
	" WHERE t IS NOT NULL AND e IS NOT NULL AND n IS NOT NULL AND o IS NOT NULL" \
	" AND nw IS NOT NULL AND c IS NOT NULL"

/* A home made before the trust tables: its inbox_devices become the pins
 * and its inbox_key_events the first alerts (trust.c; trust_schema runs it
 * once, in a transaction). */
int trust_import_legacy(struct sqlite3 *db, int64_t now);

#endif
