/*
 * internal.h - what the agent's own files share (not for fs/ or cli/).
 *
 * The agent is cut in three parts, each with its own files:
 *   agent.c, store.c            the agent itself: home, keys, store.db,
 *                               relay client, dispatch of agent.h calls
 *   outbox.c, send.c            drafts, the spool, sending, delivery status
 *   inbox.c, recv.c, attach.c   receiving, verification, the inbox, synced
 *                               copies of our other devices' sent messages
 * and the building blocks they use: config.h (the home's config file),
 * message.h (the inner message codec), cfile.h (encrypted content files),
 * contacts.h and names.h (naming).
 *
 * Locking: a->lock guards the agent's mutable fields below; the database
 * has its own connection per thread or is used under a->db_lock (store.c
 * decides and documents it).  Never hold a->lock across network calls.
 */
#ifndef SB_AGENT_INTERNAL_H
#define SB_AGENT_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "agent.h"

struct agent_config;
struct client;
struct client_push;
struct contacts;
struct crypto_identity;
struct crypto_key;
struct sqlite3;
struct outbox;
struct inbox;

struct agent {
	char *home;                        /* the home directory */
	struct agent_config *cfg;          /* config.h: address, device id, relay, ... */
	pthread_mutex_t lock;

	/* Keys, loaded from the keyring (agent_keys_acquire). */
	int keys_err;                      /* SB_OK, or why the keyring failed */
	struct crypto_key *sign_key;
	struct crypto_key *enc_key;
	struct crypto_identity *identity;  /* our own public identity */
	uint8_t *storage_key;              /* 32 bytes, OpenSSL secure heap */

	struct contacts *contacts;         /* contacts.vcf; reloaded on change */
	struct sqlite3 *db;                /* store.db */
	pthread_mutex_t db_lock;
	struct client *client;             /* relay connection (may be NULL while keys are missing) */

	struct outbox *out;                /* outbox.c / send.c */
	struct inbox *in;                  /* inbox.c / recv.c / attach.c */
};

/*
 * Makes sure the keys are loaded (retrying the keyring if an earlier try
 * failed) and returns SB_OK or the keyring's SB_ERR_*.  Keys stay owned by
 * the agent; callers use them under no lock (they are immutable once
 * loaded and freed only by agent_close).
 */
int agent_keys_acquire(struct agent *a);

/* ---- inbox side (inbox.c, recv.c, attach.c) ------------------------------ */

/* Creates its tables, starts its worker thread. */
int  inbox_init(struct agent *a);
void inbox_shutdown(struct agent *a);
/* The relay client's push callback (client.h): runs on the client's I/O
 * thread, hands the push to the inbox worker and returns at once. */
void inbox_on_push(void *arg, const struct client_push *p);

/*
 * The namespace of received messages.  box AGENT_BOX_IN: inbox/; box
 * AGENT_BOX_OUT: the copies our other devices sent (synced into outbox/,
 * listed by outbox.c beside our own).  Same contracts as agent.h.
 */
int  inbox_list_folders(struct agent *a, enum agent_box box, agent_fill_fn fill, void *ctx);
int  inbox_folder_attr(struct agent *a, enum agent_box box, const char *folder,
         struct agent_attr *out);
int  inbox_list_files(struct agent *a, enum agent_box box, const char *folder,
         agent_fill_fn fill, void *ctx);
int  inbox_file_attr(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct agent_attr *out);
int  inbox_file_open(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct agent_file **out);
int  inbox_xattr_get(struct agent *a, enum agent_box box, const char *folder,
         const char *name, const char *attr, struct sb_buf *out);
int  inbox_xattr_list(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct sb_buf *out);
int  inbox_unlink(struct agent *a, enum agent_box box, const char *folder,
         const char *name);

/*
 * An open file is one of two kinds; agent_file_read/release dispatch on it.
 * Each side defines its own struct behind the common head.
 */
enum agent_file_kind { AGENT_FILE_OUT = 1, AGENT_FILE_IN = 2 };
struct agent_file {
	enum agent_file_kind kind;
	struct agent *a;
};
int  inbox_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off, size_t *got);
int  inbox_file_release(struct agent_file *f);

#endif
