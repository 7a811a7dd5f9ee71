#!/usr/bin/env bash
# The trust state at rest (issue 14: "a restart of the agent keeps pins
# and the verified state, stored encrypted at rest like the rest of the
# home").  After `sealbox verify --confirm` a remount keeps bob verified
# and every pin.  No pinned identity hash, identity or verified set is in
# store.db in clear.  Whoever can write store.db but has no keyring (a
# process of the user's, a restored backup, a synced home) cannot make a
# contact verified or change a pin: flipping a byte of a sealed value,
# copying bob's verified row onto carol's address, or putting carol's pin
# in place of bob's each gives the alert "ADDRESS trust record failed its
# integrity check", and the contact is not `verified`.  `sealbox trust
# accept` then re-pins the contact from the directory.  Deleting alerts
# (the newest, or an older one) is that alert on alice's own account,
# once while it is open.
here=$(cd "$(dirname "$0")" && pwd); top=${here%/tests/integration*}
[ -n "${SEALBOX_WITH_KEYRING_BUS:-}" ] || exec "$top/scripts/with-keyring" bash "$0" "$@"
source "$top/tests/lib/common.sh"
source "$SB_TOP/tests/lib/mailbox.sh"

mb_alice_to_bob
mb_device carol carol@example.com
HA=$(mb_home alice)
DB=$HA/store.db
bobdev=$(mb_device_id bob) caroldev=$(mb_device_id carol)
integrity='trust record failed its integrity check - -> -'

# sql SQL...: runs SQL on alice's store.db (her mount is down).
sql() { python3 - "$DB" "$@" <<'PY'
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=10)
for s in sys.argv[2:]:
    con.execute(s)
con.commit()
PY
}
# snapshot save|restore: a copy of alice's store.db (WAL included).
snapshot() { python3 - "$DB" "$T/store.snap" "$1" <<'PY'
import sqlite3, sys
db, snap, how = sys.argv[1:4]
src, dst = (db, snap) if how == "save" else (snap, db)
a, b = sqlite3.connect(src), sqlite3.connect(dst)
a.backup(b)
b.close()
a.close()
PY
}
# in_clear HEX: HEX's bytes are somewhere in store.db or its WAL.
in_clear() { python3 - "$1" "$DB" "$DB-wal" <<'PY'
import os, sys
want = bytes.fromhex(sys.argv[1])
sys.exit(0 if any(os.path.exists(p) and want in open(p, "rb").read()
                  for p in sys.argv[2:]) else 1)
PY
}
pins() { "$SEALBOX" trust --home "$HA" | sed -n "/^$1:/,/^[a-z]/p" | grep '^  device'; }

note "alice pins bob and carol, and verifies bob"
mkdir "$A/outbox/carol@example.com"
echo "to bob" >"$O/b.txt"
echo "to carol" >"$A/outbox/carol@example.com/c.txt"
wait_status 20 "$O/b.txt" '^delivered 1/1$'
wait_status 20 "$A/outbox/carol@example.com/c.txt" '^(sent|delivered 1/1)$'
code=$("$SEALBOX" verify --home "$(mb_home bob)" alice@example.com | sed -n '2,4p')
"$SEALBOX" verify --home "$HA" bob@example.com --confirm "$code" >/dev/null || fail "confirm"
[ "$(mb_trust "$O")" = verified ] || fail "after confirm: '$(mb_trust "$O")'"
bobfp=$(mb_fp alice bob@example.com "$bobdev") carolfp=$(mb_fp alice carol@example.com "$caroldev")
bobpins=$(pins bob@example.com) carolpins=$(pins carol@example.com)
[ "$bobpins" = "  device $bobdev $bobfp" ] || fail "bob's pins: $bobpins"

note "a restart keeps the verified state and the pins"
mb_umount alice
mb_mount alice
[ "$(mb_trust "$O")" = verified ] || fail "after remount: '$(mb_trust "$O")'"
[ "$(mb_trust "$A/outbox/carol@example.com")" = unverified ] ||
	fail "carol after remount: '$(mb_trust "$A/outbox/carol@example.com")'"
[ "$(pins bob@example.com)" = "$bobpins" ] || fail "bob's pins after remount: $(pins bob@example.com)"
[ "$(pins carol@example.com)" = "$carolpins" ] || fail "carol's pins: $(pins carol@example.com)"
[ ! -s "$A/alerts" ] || fail "alerts after a plain remount: $(cat "$A/alerts")"
echo "after restart" >"$O/r.txt"
wait_status 20 "$O/r.txt" '^delivered 1/1$'

note "no pinned hash or identity in clear in store.db"
mb_umount alice
for fp in "$bobfp" "$carolfp"; do
	! in_clear "$fp" || fail "the identity hash $fp is in store.db in clear"
done
carolid=$(mb_sql "SELECT hex(identity) FROM devices WHERE id = ?" "$caroldev")
[ -n "$carolid" ] || fail "carol's identity at the relay"
! in_clear "$carolid" || fail "carol's identity is in store.db in clear"
snapshot save

# tampered WHAT ADDRESS: after the edit, alice's mount shows the integrity
# alert for ADDRESS and neither bob nor ADDRESS as verified.
tampered() {
	mb_mount alice
	mb_alert_shown alice "$2" "$integrity" >/dev/null
	[ "$(mb_trust "$O")" != verified ] || fail "$1: bob still verified"
	mb_umount alice
	snapshot restore
}

note "a flipped byte in bob's verified set"
python3 - "$DB" <<'PY' || fail "flip"
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
(v,) = con.execute("SELECT verified_set FROM trust_contacts WHERE address = 'bob@example.com'").fetchone()
v = bytearray(v); v[len(v) // 2] ^= 1
con.execute("UPDATE trust_contacts SET verified_set = ? WHERE address = 'bob@example.com'", (bytes(v),))
con.commit()
PY
tampered "flipped byte" bob@example.com

note "bob's verified row copied onto carol's address"
sql "UPDATE trust_contacts SET (verified_set, verified_at) = (SELECT verified_set, verified_at
	FROM trust_contacts WHERE address = 'bob@example.com') WHERE address = 'carol@example.com'"
mb_mount alice
mb_alert_shown alice carol@example.com "$integrity" >/dev/null
[ "$(mb_trust "$A/outbox/carol@example.com")" != verified ] || fail "carol verified by a copied row"
[ "$(mb_trust "$O")" = verified ] || fail "bob, untouched: '$(mb_trust "$O")'"
mb_umount alice
snapshot restore

note "carol's pin put in place of bob's"
sql "UPDATE trust_pins SET (identity, hash) = (SELECT identity, hash FROM trust_pins
	WHERE address = 'carol@example.com') WHERE address = 'bob@example.com'"
mb_mount alice
mb_alert_shown alice bob@example.com "$integrity" >/dev/null
[ "$(mb_trust "$O")" != verified ] || fail "replaced pin: bob still verified"
[ -z "$(pins bob@example.com | grep "$carolfp")" ] || fail "carol's key pinned for bob: $(pins bob@example.com)"

note "trust accept re-pins bob from the directory"
"$SEALBOX" trust --home "$HA" accept bob@example.com >/dev/null || fail "trust accept"
[ "$(pins bob@example.com)" = "$bobpins" ] || fail "bob's pins after accept: $(pins bob@example.com)"
[ "$(mb_trust "$O")" = unverified ] || fail "after accept: '$(mb_trust "$O")'"
echo "after accept" >"$O/a.txt"
wait_status 20 "$O/a.txt" '^delivered 1/1$'
mb_umount alice
mb_mount alice
[ "$(mb_trust "$O")" = unverified ] || fail "after accept and a remount: '$(mb_trust "$O")'"

note "alerts deleted from store.db: the newest, then one before it"
# del_alert WHICH: deletes the alert at id WHICH (an SQL aggregate) while
# alice's mount is down.
del_alert() {
	mb_umount alice
	sql "DELETE FROM trust_alerts WHERE id = (SELECT $1 FROM trust_alerts WHERE address != '')"
	mb_mount alice
}
n=$(wc -l <"$A/alerts")
[ "$n" -ge 2 ] || fail "alerts to delete: $(cat "$A/alerts")"
del_alert "max(id)"
line=$(tail -1 "$A/alerts")
[[ "$line" =~ ^$mb_alert_re\ alice@example\.com\ $integrity$ ]] ||
	fail "after deleting the newest alert: '$(cat "$A/alerts")'"
grep -qxF "sealbox: alert: $line" "$(mb_log alice)" || fail "not in the log: $line"
grep -qxF "alert: $line" <<<"$("$SEALBOX" status --home "$HA")" || fail "status: no '$line'"
[ "$(wc -l <"$A/alerts")" -eq "$n" ] || fail "alerts: $(cat "$A/alerts")"
# The same alert, still open, covers an older one deleted too: once.
del_alert "min(id)"
[ "$(tail -1 "$A/alerts")" = "$line" ] && [ "$(wc -l <"$A/alerts")" -eq $((n - 1)) ] ||
	fail "after deleting an older alert: $(cat "$A/alerts")"
mb_umount alice
mb_mount alice
[ "$(wc -l <"$A/alerts")" -eq $((n - 1)) ] || fail "a remount found it again: $(cat "$A/alerts")"
mb_finish
