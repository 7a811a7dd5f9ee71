/*
 * names.h - what the mailbox's names mean: addresses, conversation folders,
 * incoming file names (DESIGN.md section 3).
 *
 * This module decides three things and nothing else:
 *   - which strings are addresses, and the one canonical spelling of each
 *     (the directory, the agent and the contacts all compare canonical forms);
 *   - which recipients an outbox folder name stands for (an address, a
 *     contact's name, or a comma-separated group of those);
 *   - what an incoming message is called on disk: its inbox folder and its
 *     file name, made safe to use as a single path component.
 *
 * Every function is pure: no I/O, no clock, no locale, no globals.  Results
 * go into caller buffers; nothing here keeps a pointer to its inputs.
 *
 * Canonical addresses (see docs/ARCHITECTURE.md ("Contacts and names") for why):
 *   e-mail  local@domain, ASCII only, the WHOLE address lowercased (the
 *           directory treats addresses as case-insensitive, as IDS does);
 *   phone   E.164: '+', a non-zero digit, then digits, 8..15 digits in all.
 */
#ifndef SB_AGENT_NAMES_H
#define SB_AGENT_NAMES_H

#include <stddef.h>
#include <stdint.h>

struct contacts;
struct sb_reader;

/* A path component's bytes (Linux NAME_MAX) and a buffer that holds one. */
#define NAMES_NAME_MAX        255
#define NAMES_NAME_BUF        (NAMES_NAME_MAX + 1)
/* RFC 5321: 64-byte local part, 254-byte path; E.164: 15 digits. */
#define NAMES_MAX_EMAIL       254
#define NAMES_MAX_EMAIL_LOCAL 64
#define NAMES_MIN_E164_DIGITS 8
#define NAMES_MAX_E164_DIGITS 15
/* Longest canonical address, and a buffer that holds one. */
#define NAMES_ADDR_MAX        NAMES_MAX_EMAIL
#define NAMES_ADDR_BUF        (NAMES_ADDR_MAX + 1)
/* Most recipients one folder may stand for (after contacts expand). */
#define NAMES_MAX_RECIPIENTS  256
/* The placeholder for a name that sanitises to nothing usable. */
#define NAMES_PLACEHOLDER     "attachment"
/* "YYYYMMDDTHHMMSSZ-" "NNNN-" "xxxxxxxx-": the prefix of an incoming file
 * name (the sequence is wider only past 9999 messages in one second). */
#define NAMES_STAMP_LEN       16
#define NAMES_SEQ_LEN         4
#define NAMES_SEQ_MAX         9999u
#define NAMES_ID_HEX_LEN      8
#define NAMES_FILE_PREFIX_LEN (NAMES_STAMP_LEN + 1 + NAMES_SEQ_LEN + 1 + \
                               NAMES_ID_HEX_LEN + 1)
/* Latest time a file name can carry: 9999-12-31T23:59:59Z (fixed width). */
#define NAMES_MAX_TIME        INT64_C(253402300799)

enum names_kind {
	NAMES_NOT_ADDRESS = 0,
	NAMES_EMAIL       = 1,
	NAMES_PHONE       = 2,
};

/*
 * Address classification of exactly len bytes (no NUL needed).  True only
 * for canonical forms: names_is_email rejects upper case, names_is_e164
 * rejects separators.  Use names_address_canonical on user input first.
 */
int names_is_email(const char *s, size_t len);
int names_is_e164(const char *s, size_t len);
/* NAMES_EMAIL, NAMES_PHONE or NAMES_NOT_ADDRESS for a canonical address. */
enum names_kind names_kind(const char *s, size_t len);

/*
 * Canonical form of an address as a person types it or a contacts app
 * stores it: surrounding white space trimmed; e-mail lowercased (a leading
 * "mailto:" dropped); phone numbers with a leading '+' lose spaces, '-',
 * '.', '(' and ')' (a "tel:" prefix and URI parameters dropped).  A number
 * without '+' is not E.164 and is refused: its country is unknowable.
 * Writes a NUL-terminated string of at most NAMES_ADDR_MAX bytes into out
 * (out_size >= NAMES_ADDR_BUF) and its kind into *kind (may be NULL).
 * Returns SB_OK or SB_ERR_INVALID_ARG (not an address; out is "").
 */
int names_address_canonical(const char *in, size_t len, char *out,
    size_t out_size, enum names_kind *kind);

/*
 * A resolved recipient set: canonical addresses, unique, sorted bytewise.
 * Opaque; created by names_resolve, freed with names_recipients_free.
 */
struct names_recipients;

/*
 * Resolves an outbox folder name (exactly len bytes) to its recipients, in
 * this order:
 *   1. the whole name is an address (after canonicalisation);
 *   2. the whole name is a contact's name: contacts_lookup_name (FN,
 *      ASCII case-insensitive), else a contact whose inbox folder name
 *      (names_inbox_folder) equals it, so replying under the folder a
 *      message arrived in works even when the FN had to be sanitised;
 *   3. otherwise, if it contains ',', a group: each member (white space
 *      around it trimmed) must resolve by 1 or 2.
 * A contact contributes every matchable address it has (fax and pager
 * numbers, and numbers not in E.164, excluded).  contacts may be NULL
 * (no contacts file).  *out is set only on success; caller frees it.
 * Returns SB_OK, SB_ERR_UNKNOWN_RECIPIENT (a name that is no address and no
 * contact, or a contact without a matchable address: fs/ answers ENXIO),
 * SB_ERR_INVALID_ARG (empty name, empty group member, '/' or NUL inside, a
 * name over NAMES_NAME_MAX), SB_ERR_TOO_BIG (over NAMES_MAX_RECIPIENTS),
 * SB_ERR_ALLOC.
 */
int names_resolve(const struct contacts *contacts, const char *name,
    size_t len, struct names_recipients **out);
void names_recipients_free(struct names_recipients *r);
size_t names_recipients_count(const struct names_recipients *r);
/* The i-th address (i < count), borrowed until names_recipients_free. */
const char *names_recipients_get(const struct names_recipients *r, size_t i);
/* True if addr (canonical, NUL-terminated) is in the set. */
int names_recipients_contains(const struct names_recipients *r,
    const char *addr);

/*
 * The canonical folder name of a recipient set: its addresses, sorted, joined
 * with ',' and no spaces ("bob@example.com,carol@example.com"); a single
 * recipient is just its address.  Two folder names denote the same
 * conversation exactly when their canonical names are equal.  Writes a
 * NUL-terminated string into out (out_size >= NAMES_NAME_BUF).
 * Returns SB_OK, SB_ERR_LENGTH (longer than NAMES_NAME_MAX: such a group
 * can only be named by contact names), SB_ERR_INVALID_ARG (empty set).
 */
int names_group_canonical(const struct names_recipients *r, char *out,
    size_t out_size);

/*
 * The inbox folder for a message from sender (a canonical address): the
 * display name of the first contact card holding that address, sanitised
 * as a path component (names_sanitize_component), or the bare address
 * when no card matches, contacts is NULL, or the display name would
 * masquerade as some other address.  out_size >= NAMES_NAME_BUF.
 * Returns SB_OK or SB_ERR_INVALID_ARG (sender not a canonical address).
 */
int names_inbox_folder(const struct contacts *contacts, const char *sender,
    char *out, size_t out_size);

/*
 * Makes untrusted bytes (exactly len; NUL allowed, it is replaced) safe as
 * one path component:
 *   - '/' and the characters drawn like it (U+2044, U+2215, U+2571,
 *     U+27CB, U+29F8, U+29F9, U+FF0F), NUL, C0/C1 controls, DEL, line
 *     separators and the invisible characters that can disguise a name
 *     (bidi marks, embeddings, overrides and isolates; zero-width and other
 *     format characters: U+00AD, U+200B..F, U+2060..F, U+FEFF, tags, ...;
 *     the list is names_display_check's) become '_', one for each;
 *   - bytes that are not valid UTF-8 become U+FFFD;
 *   - surrounding white space is trimmed;
 *   - a name that is empty or only dots becomes NAMES_PLACEHOLDER;
 *   - a leading '.' becomes '_' (an inbox entry is never hidden from ls);
 *   - the result is cut to at most max bytes (max <= NAMES_NAME_MAX, >=
 *     NAMES_SANITIZE_MIN) on a UTF-8 character boundary, keeping a short
 *     extension (".pdf", up to NAMES_EXT_MAX bytes) when it is cut.
 * Writes a NUL-terminated, valid UTF-8 string into out (out_size > max).
 * Returns SB_OK or SB_ERR_INVALID_ARG (bad max or out_size).
 */
/*
 * The same for a folder or file name below the first level of a tree a
 * sender sent (docs/PROTOCOL.md 11.1), except that a leading '.' is kept:
 * a tree keeps its dot-files (.git/HEAD, .gitignore); "." and ".." still
 * become NAMES_PLACEHOLDER.  max is NAMES_NAME_MAX.
 */
int names_sanitize_tree_component(const char *in, size_t len, char *out,
    size_t out_size);
#define NAMES_EXT_MAX       16
#define NAMES_SANITIZE_MIN  (NAMES_EXT_MAX + 8)
int names_sanitize_component(const char *in, size_t len, size_t max,
    char *out, size_t out_size);

/*
 * Untrusted text for a terminal (device names from the relay, issue 12
 * finding 8).  names_display_check says whether in[0..len) can be shown as it
 * is: valid UTF-8 without control, line-separator or invisible format
 * characters (the set names_sanitize_component maps to '_', minus '/').
 * Returns SB_OK, or SB_ERR_INVALID_ARG with the first offender in *bad (a
 * code point, or NAMES_BAD_BYTE | the byte for invalid UTF-8) at byte
 * offset *bad_off (both may be NULL).
 */
#define NAMES_BAD_BYTE  0x80000000u
int names_display_check(const char *in, size_t len, uint32_t *bad,
    size_t *bad_off);

/*
 * The printable form of in[0..len): what names_display_check refuses is
 * escaped, a byte that is not UTF-8 and an ASCII control as \xNN, any other
 * code point as \u{XXXX} (upper-case hex, at least 4 digits), and '\' as
 * "\\", so the escaping is reversible; everything else is copied.  Output
 * is NUL-terminated valid UTF-8 of at most out_size - 1 bytes;
 * NAMES_ESCAPE_BUF(len) always suffices (at most 4 bytes out per byte in).
 * Returns SB_OK, SB_ERR_LENGTH (cut after the last whole character or
 * escape that fit) or SB_ERR_INVALID_ARG (out NULL or out_size 0).
 */
#define NAMES_ESCAPE_BUF(len) (4 * (len) + 1)
int names_escape_display(const char *in, size_t len, char *out,
    size_t out_size);

/*
 * The file name of an incoming file:
 *   YYYYMMDDTHHMMSSZ-<seq>-<first 8 hex digits of id>-<sanitised sender name>
 * time is UTC seconds since the epoch (0 .. NAMES_MAX_TIME); seq (>= 1) is
 * the message's rank among those stamped with the same second, in order of
 * arrival, as 4 digits (more past NAMES_SEQ_MAX).  The fixed-width stamp
 * and sequence make `ls`, in any locale, list files by time and, within a
 * second, in the order they came (issue 13, point 5; for one sending
 * device that is the order it sent them).  The sender's name is sanitised
 * as names_sanitize_component does, except that a leading '.' is kept (the
 * prefix already keeps the entry visible), bounded so the whole name fits
 * NAMES_NAME_MAX.  id_len >= 4.
 * Writes a NUL-terminated string into out (out_size >= NAMES_NAME_BUF).
 * Returns SB_OK or SB_ERR_INVALID_ARG.
 */
int names_incoming_file(int64_t time, unsigned seq, const uint8_t *id, size_t id_len,
    const char *sender_name, size_t name_len, char *out, size_t out_size);

/* time (clamped to 0 .. NAMES_MAX_TIME) as "YYYY-MM-DDTHH:MM:SSZ", UTC,
 * with the same hand-made calendar (no TZ, no locale): alert lines. */
#define NAMES_UTC_BUF 21
void names_utc_text(int64_t time, char out[NAMES_UTC_BUF]);

/*
 * Decodes one UTF-8 character (RFC 3629: no overlong forms, no surrogates,
 * nothing above U+10FFFF) from r into *cp.  Returns 1 for a character, 0 for
 * an invalid sequence (one byte consumed, *cp = U+FFFD, so the caller can
 * substitute and go on), -1 at the end of the input.
 */
int names_utf8_next(struct sb_reader *r, uint32_t *cp);
/* Appends the UTF-8 encoding of cp (<= U+10FFFF) to out[0..4); returns its
 * length in bytes. */
size_t names_utf8_put(uint32_t cp, char out[4]);

#endif
