/*
 * mail.h - the Maildir view of the inbox (issue 13, point 9;
 * docs/ARCHITECTURE.md "The Maildir view").
 *
 * MNT/maildir/ is a read-only Maildir++ tree: one folder per inbox folder
 * (".<name>", each with cur/, new/ and tmp/), where every received message
 * is an RFC 5322 message rendered on the fly from the verified content:
 * text/plain for UTF-8 text, multipart/mixed with a base64 attachment
 * otherwise.  Nothing is rendered to disk: each read renders the bytes it
 * asks for, from the agent's verified reads, so a 1 GiB attachment streams
 * in flat memory and a read at any offset costs what it touches.
 *
 * Two layers:
 *   render.c   pure: the message's bytes from its metadata and a source of
 *              content (no I/O, no clock, no locale); unit-tested.
 *   maildir.c  the namespace over agent.h: folders, file names, stat sizes,
 *              open/read; fs/ calls it for every path under /maildir.
 *
 * It never writes: every change under maildir/ is SB_ERR_READONLY (EROFS).
 */
#ifndef SB_MAIL_H
#define SB_MAIL_H

#include <stddef.h>
#include <stdint.h>

#include "agent/agent.h"

/* ---- render.c: one message's bytes ---------------------------------------- */

#define MAIL_MSGID_LEN   16
/* Content up to this size that is UTF-8 text is shown as a text body;
 * anything larger is an attachment, so classifying a message never reads
 * more than this (a 1 GiB file is not scanned to learn it is binary). */
#define MAIL_TEXT_MAX    (UINT64_C(1) << 20)
/* RFC 5322 2.1.1: a line is at most 998 characters. */
#define MAIL_LINE_MAX    998
/* base64 lines: 76 characters (RFC 2045 6.8), 57 content bytes each. */
#define MAIL_B64_LINE    76
#define MAIL_B64_IN      57
/* A string of the header (address, subject) longer than this is refused. */
#define MAIL_STR_MAX     1024
/* At most this many recipients are named in To: (the inner message's cap). */
#define MAIL_TO_MAX      256

enum mail_body {
	MAIL_BODY_TEXT = 1,        /* text/plain; charset=utf-8, 8bit: the content as is */
	MAIL_BODY_TEXT_B64 = 2,    /* text/plain; charset=utf-8, base64: text with a CR
	                              or a line longer than MAIL_LINE_MAX */
	MAIL_BODY_ATTACHMENT = 3,  /* multipart/mixed: a note and the content, base64 */
};

/*
 * What the content is, from its first len bytes p of size bytes in all:
 * TEXT when size <= MAIL_TEXT_MAX, len == size and the bytes are valid
 * UTF-8 (RFC 3629) without NUL, DEL or C0 controls other than TAB, LF, CR
 * and FF; TEXT_B64 when such text has a CR or a line over MAIL_LINE_MAX
 * bytes (8bit would break RFC 5322's line rules); ATTACHMENT otherwise.
 */
enum mail_body mail_classify(const uint8_t *p, size_t len, uint64_t size);

/* One message's metadata; strings are NUL-terminated and borrowed. */
struct mail_meta {
	const char *from;               /* the sender's address */
	const char *const *to;          /* the recipients' addresses */
	size_t n_to;
	uint64_t date;                  /* the sender's time, s since the epoch */
	const char *subject;            /* the sender's file name (UTF-8) */
	const uint8_t *msgid;           /* MAIL_MSGID_LEN */
	uint64_t device;                /* the sending device */
	uint64_t size;                  /* the content's size */
	enum mail_body body;
};

struct mail_render;

/*
 * Lays out the message: its header and fixed parts in memory (a few KiB at
 * most), the content by reference.  Control characters in the subject are
 * shown as '_' (the agent's names have none).  SB_OK, SB_ERR_ALLOC, or
 * SB_ERR_INVALID_ARG (a missing field, an address that is not printable
 * ASCII, a string over MAIL_STR_MAX, more than MAIL_TO_MAX recipients, a
 * date past 9999, an unknown body).  Free with mail_render_free (NULL
 * accepted).
 */
int  mail_render_new(const struct mail_meta *m, struct mail_render **out);
void mail_render_free(struct mail_render *r);
/* The exact size of the rendered message (what stat shows). */
uint64_t mail_render_size(const struct mail_render *r);

/*
 * A source of content: fills buf with n bytes at off, *got < n only at the
 * end of the content.  Returns SB_OK or an SB_ERR_* that is passed up.
 */
typedef int (*mail_read_fn)(void *ctx, void *buf, size_t n, uint64_t off, size_t *got);

/*
 * Renders up to size bytes at offset off of the message into buf (*got is
 * short only at its end), reading from src only the content those bytes
 * show (a base64 window reads whole 57-byte groups around it).  Content
 * shorter than the metadata said is SB_ERR_LENGTH.
 */
int  mail_render_read(const struct mail_render *r, mail_read_fn src, void *ctx,
         void *buf, size_t size, uint64_t off, size_t *got);

/* ---- Names ------------------------------------------------------------------ */

/*
 * A message's file name: "<date>.<msgid hex>_<device hex>.sealbox:2,S"
 * (decimal seconds, 32 and 16 lower-case hex digits): stable, unique per
 * (sending device, message id) as the replay cache keeps it, sorted by time
 * by mail clients that sort names.  out_size >= MAIL_NAME_BUF.
 */
#define MAIL_NAME_BUF 96
int  mail_file_name(uint64_t date, const uint8_t msgid[MAIL_MSGID_LEN], uint64_t device,
         char *out, size_t out_size);
/* Parses a name mail_file_name made, strictly (only its canonical
 * spelling); SB_ERR_FORMAT for anything else. */
int  mail_file_name_parse(const char *name, uint64_t *date,
         uint8_t msgid[MAIL_MSGID_LEN], uint64_t *device);

/*
 * The Maildir++ folder of an inbox folder: "." + the name with every '.'
 * shown as '_' (Maildir++ reads a dot as a level of folders, which would
 * turn alice@example.com into a folder "com" inside "alice@example").
 * A name that would pass NAME_MAX (255) is cut on a UTF-8 boundary.
 * out_size >= MAIL_FOLDER_BUF; SB_ERR_INVALID_ARG for an empty name.
 */
#define MAIL_FOLDER_BUF 256
int  mail_folder_name(const char *inbox_folder, char *out, size_t out_size);

/* ---- maildir.c: the namespace under MNT/maildir ---------------------------- */

struct mail_view;
struct mail_file;

/* A view over agent a (borrowed: it must outlive the view).  SB_OK or
 * SB_ERR_ALLOC. */
int  mail_view_new(struct agent *a, struct mail_view **out);
void mail_view_free(struct mail_view *v);

/*
 * Paths are relative to maildir/ and already split by '/': n components
 * (0 = maildir/ itself).  Same contracts as agent.h: SB_ERR_NOT_FOUND for
 * what is not there; attr modes are 0500 folders and 0400 messages.
 */
int  mail_view_attr(struct mail_view *v, const char *const *comp, int n,
         struct agent_attr *out);
int  mail_view_list(struct mail_view *v, const char *const *comp, int n,
         agent_fill_fn fill, void *ctx);
int  mail_view_open(struct mail_view *v, const char *const *comp, int n,
         struct mail_file **out);
int  mail_view_read(struct mail_file *f, void *buf, size_t size, uint64_t off,
         size_t *got);
void mail_view_release(struct mail_file *f);

#endif
