/*
 * fuzz_contacts.c - the vCard reader (agent/contacts.h) on arbitrary bytes,
 * then every lookup the mailbox makes with what it parsed (agent/names.h:
 * outbox folder resolution, inbox folder names).
 *
 * Properties: a parse either fails with no result or yields cards whose
 * names are NUL-terminated, bounded and found again by contacts_lookup_name;
 * every address kept as e-mail or phone is canonical (names_kind agrees,
 * canonicalising it again is a no-op) and found by contacts_lookup_address;
 * names_inbox_folder never fails for such an address.
 */
#include "fuzz.h"
#include "agent/contacts.h"
#include "agent/names.h"

/* Per-input work stays bounded however many cards a file holds. */
#define FUZZ_MAX_CARDS 64

static void
check_addr(const struct contacts *c, const char *addr, enum contacts_addr_kind kind)
{
	char canon[NAMES_ADDR_BUF], folder[NAMES_NAME_BUF];
	enum names_kind nk;
	size_t len = strlen(addr);

	if (kind == CONTACTS_UNUSABLE)
		return;
	FUZZ_ASSERT(kind == CONTACTS_EMAIL || kind == CONTACTS_PHONE);
	nk = names_kind(addr, len);
	FUZZ_ASSERT(nk == (kind == CONTACTS_EMAIL ? NAMES_EMAIL : NAMES_PHONE));
	FUZZ_ASSERT(names_address_canonical(addr, len, canon, sizeof(canon), NULL) == SB_OK);
	FUZZ_ASSERT(strcmp(canon, addr) == 0);
	FUZZ_ASSERT(contacts_lookup_address(c, addr) != NULL);
	FUZZ_ASSERT(names_inbox_folder(c, addr, folder, sizeof(folder)) == SB_OK);
	FUZZ_ASSERT(strlen(folder) <= NAMES_NAME_MAX && strchr(folder, '/') == NULL);
}

static void
check_card(const struct contacts *c, size_t i)
{
	const char *name = contacts_card_name(c, i), *addr, **addrs = NULL;
	struct names_recipients *r = NULL;
	enum contacts_addr_kind kind;
	unsigned types;
	size_t j, n = 0;
	int rc;

	FUZZ_ASSERT(name != NULL && strlen(name) <= CONTACTS_MAX_NAME);
	rc = contacts_lookup_name(c, name, strlen(name), &addrs, &n);
	FUZZ_ASSERT(rc == SB_OK);
	for (j = 0; j < n; j++)
		FUZZ_ASSERT(addrs[j] != NULL && names_kind(addrs[j], strlen(addrs[j])) != NAMES_NOT_ADDRESS);
	for (j = 1; j < n; j++)
		FUZZ_ASSERT(strcmp(addrs[j - 1], addrs[j]) < 0);
	free(addrs);

	FUZZ_ASSERT(contacts_card_addr_count(c, i) <= CONTACTS_MAX_ADDRS);
	for (j = 0; j < contacts_card_addr_count(c, i); j++) {
		addr = contacts_card_addr(c, i, j, &kind, &types);
		FUZZ_ASSERT(addr != NULL);
		check_addr(c, addr, kind);
	}

	/* The card's name as an outbox folder: whatever it resolves to is a
	 * set of canonical addresses. */
	rc = names_resolve(c, name, strlen(name), &r);
	if (rc == SB_OK) {
		for (j = 0; j < names_recipients_count(r); j++) {
			addr = names_recipients_get(r, j);
			FUZZ_ASSERT(names_kind(addr, strlen(addr)) != NAMES_NOT_ADDRESS);
			FUZZ_ASSERT(names_recipients_contains(r, addr));
		}
		names_recipients_free(r);
	} else {
		FUZZ_ASSERT(r == NULL);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct contacts *c = NULL;
	size_t i, k, line;
	const char *reason;
	int rc;

	rc = contacts_parse(data, size, &c);
	if (rc != SB_OK) {
		FUZZ_ASSERT(rc < 0 && c == NULL);
		return 0;
	}
	FUZZ_ASSERT(c != NULL);
	FUZZ_ASSERT(contacts_count(c) <= CONTACTS_MAX_CARDS);
	for (i = 0; i < contacts_count(c) && i < FUZZ_MAX_CARDS; i++)
		check_card(c, i);
	for (k = 0; k < contacts_skipped(c) && k < CONTACTS_MAX_SKIPS; k++) {
		FUZZ_ASSERT(contacts_skip_info(c, k, &line, &reason) == SB_OK);
		FUZZ_ASSERT(line >= 1 && reason != NULL);
	}
	FUZZ_ASSERT(contacts_skip_info(c, CONTACTS_MAX_SKIPS, &line, &reason) != SB_OK);
	contacts_free(c);
	return 0;
}
