/*
 * internal.h - what the agent's own files share (not for fs/ or cli/).
 *
 * The agent is cut along send / receive / store; data flows one way:
 *
 *   agent.c        lifecycle (home, keys, store.db, the relay client) and
 *                  the dispatch of agent.h calls to the views
 *   view/          the namespaces: inbox/ (received messages) and outbox/
 *                  (our own spool merged with our other devices' synced
 *                  copies); view.h.  Above send/ and recv/: uses both.
 *   send/          drafts, write sessions, the spool, the sender thread,
 *                  delivery status (outbox.h).  Never uses recv/,
 *                  msgstore/ or view/.
 *   recv/          the push queue and its worker, verification, attachment
 *                  fetch (recv.h); writes into msgstore/.  Never uses
 *                  send/ or view/.
 *   msgstore/      the store of received messages: their tables and files
 *                  (msgstore.h).  Knows no namespace; uses none of the
 *                  parts above.
 *
 * and, under all of them, the building blocks in agent/ itself: this
 * header (struct agent, keys, contacts, the client), store.h (store.db's
 * connection and helpers), config.h, message.h, cfile.h, contacts.h,
 * names.h.  Those include no part's header.  scripts/check-layers.sh (run
 * by scripts/lint.sh) keeps these rules.
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
	int db_lazy;                       /* store.c: synchronous=NORMAL now */
	struct client *client;             /* relay connection (may be NULL while keys are missing) */

	struct outbox *out;                /* send/ */
	struct inbox *in;                  /* recv/: the push queue */

	/* agent_subscribe: told of every arrival, in order, under sub_lock
	 * (so unsubscribing waits for a call in progress). */
	pthread_mutex_t sub_lock;
	pthread_cond_t sub_ready_cond;
	int sub_ready;                     /* agent_subscribed was called */
	struct {
		agent_arrival_fn fn;
		void *ctx;
	} subs[AGENT_SUBSCRIBERS_MAX];
	size_t n_subs;
};

/*
 * Makes sure the keys are loaded (retrying the keyring if an earlier try
 * failed) and returns SB_OK or the keyring's SB_ERR_*.  Keys stay owned by
 * the agent; callers use them under no lock (they are immutable once
 * loaded and freed only by agent_close).
 */
int agent_keys_acquire(struct agent *a);

/* The current contacts (reloaded when contacts.vcf changed; may be NULL).
 * The pointer stays valid until agent_close. */
const struct contacts *agent_contacts(struct agent *a);
/* The relay client (NULL until the keys are loaded and it started); it
 * lives until agent_close. */
struct client *agent_client(struct agent *a);

/* recv/ after a message is stored: fills in ev->new_folder and tells the
 * subscribers (agent_subscribe).  No lock held by the caller. */
void agent_arrived(struct agent *a, struct agent_arrival *ev);

/*
 * An open file is one of two kinds; agent_file_read/release dispatch on it.
 * Each side defines its own struct behind the common head.
 */
enum agent_file_kind { AGENT_FILE_OUT = 1, AGENT_FILE_IN = 2, AGENT_FILE_ALERTS = 3 };
struct agent_file {
	enum agent_file_kind kind;
	struct agent *a;
};

#endif
