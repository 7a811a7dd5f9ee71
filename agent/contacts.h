/*
 * contacts.h - the user's address book: a reader for contacts.vcf as contacts
 * apps export it (Apple Contacts, Google Contacts, Thunderbird, ...).
 *
 * It understands vCard 4.0 (RFC 6350), 3.0 (RFC 2426) and the simple parts of
 * 2.1: several cards per file, CRLF/LF/CR line ends, folding, property groups
 * ("item1.EMAIL"), parameters in every spelling (TYPE=work,voice;
 * TYPE=work;TYPE=voice; bare 2.1 "TEL;WORK;VOICE"), case-insensitive names,
 * text escapes, QUOTED-PRINTABLE, CHARSET=UTF-8/ISO-8859-1, and tel: URIs.
 * Of each card it keeps FN (or a name built from N), EMAIL and TEL.
 *
 * The file is untrusted input: the parser reads it through common/wire.h's
 * bounded reader, every length has a named cap, and a malformed card is
 * skipped (counted, with its line and reason) rather than failing the file.
 *
 * It never does I/O: the caller reads the file and hands over the bytes.
 * A parsed struct contacts is immutable, so it may be shared between
 * threads; reload by parsing again and swapping the pointer.
 */
#ifndef SB_AGENT_CONTACTS_H
#define SB_AGENT_CONTACTS_H

#include <stddef.h>

/* Caps: larger input is refused or, per card, skipped. */
#define CONTACTS_MAX_FILE     ((size_t)32 << 20) /* bytes of contacts.vcf */
#define CONTACTS_MAX_CARDS    20000              /* later cards are skipped */
#define CONTACTS_MAX_LINE     (16 * 1024)        /* one unfolded line; longer
                                                    lines (photos) are dropped */
#define CONTACTS_MAX_ADDRS    64                 /* EMAIL + TEL per card */
#define CONTACTS_MAX_NAME     512                /* bytes of a display name */
#define CONTACTS_MAX_SKIPS    64                 /* skip records kept (all counted) */

struct contacts;

/* What one card address is good for. */
enum contacts_addr_kind {
	CONTACTS_EMAIL    = 1, /* canonical e-mail: matched */
	CONTACTS_PHONE    = 2, /* canonical E.164: matched */
	CONTACTS_UNUSABLE = 3, /* kept as written, never matched: a number
	                          without '+', an invalid e-mail, a sip: URI */
};

/* TYPE parameter values that matter to the mailbox (bit set). */
#define CONTACTS_TYPE_PREF  0x01 /* TYPE=pref (3.0) or PREF=n (4.0) */
#define CONTACTS_TYPE_HOME  0x02
#define CONTACTS_TYPE_WORK  0x04
#define CONTACTS_TYPE_CELL  0x08
#define CONTACTS_TYPE_VOICE 0x10
#define CONTACTS_TYPE_FAX   0x20 /* fax and pager numbers are not messaged */
#define CONTACTS_TYPE_PAGER 0x40

/*
 * Parses len bytes of vCard text.  *out is set on success and owned by the
 * caller (contacts_free).  Returns SB_OK (even when cards were skipped, or
 * when the buffer holds no card at all), SB_ERR_TOO_BIG (len over
 * CONTACTS_MAX_FILE), SB_ERR_INVALID_ARG, SB_ERR_ALLOC.
 */
int contacts_parse(const void *buf, size_t len, struct contacts **out);
void contacts_free(struct contacts *c);

/* Cards kept, in file order. */
size_t contacts_count(const struct contacts *c);
/* Display name of card i (NUL-terminated UTF-8, borrowed), i < count. */
const char *contacts_card_name(const struct contacts *c, size_t i);
/* Number of addresses of card i, in file order. */
size_t contacts_card_addr_count(const struct contacts *c, size_t i);
/*
 * Address j of card i: the canonical address (or, for CONTACTS_UNUSABLE,
 * the value as written), its kind and CONTACTS_TYPE_* bits.  Pointers are
 * borrowed from c; kind and types may be NULL.
 */
const char *contacts_card_addr(const struct contacts *c, size_t i, size_t j,
    enum contacts_addr_kind *kind, unsigned *types);

/*
 * Skipped cards: how many, and for the k-th kept record (k <
 * min(count, CONTACTS_MAX_SKIPS)) the 1-based line of its BEGIN and a static
 * reason string.  Returns SB_OK or SB_ERR_INVALID_ARG (k out of range).
 */
size_t contacts_skipped(const struct contacts *c);
int contacts_skip_info(const struct contacts *c, size_t k, size_t *line,
    const char **reason);

/*
 * Addresses of every card whose display name equals name (exactly len
 * bytes; ASCII case-insensitive, other bytes exact).  Several cards with
 * one name are one person exported twice: their addresses are merged.
 * Only messageable addresses count: e-mail and E.164, but not a line typed
 * only fax or pager (one also typed voice or cell is kept).
 * *addrs is a malloc'd array (free() it) of *n pointers borrowed from c,
 * sorted bytewise and unique; NULL when *n is 0.
 * Returns SB_OK (*n may be 0: the contact has no matchable address),
 * SB_ERR_NOT_FOUND (no card has that name), SB_ERR_ALLOC.
 */
int contacts_lookup_name(const struct contacts *c, const char *name,
    size_t len, const char ***addrs, size_t *n);

/*
 * The display name for a canonical address: that of the first card (in
 * file order) holding it, so the answer never depends on hash order.
 * Returns a borrowed string, or NULL when no card holds the address.
 * c may be NULL.
 */
const char *contacts_lookup_address(const struct contacts *c,
    const char *addr);

#endif
