/*
 * agent.c - the device agent itself: opens the home (config, contacts,
 * store.db), loads the keys from the keyring (retrying while it fails),
 * owns the relay client, starts the send and receive parts, and dispatches
 * every agent.h call to the views (view/view.h) or, for a file open for
 * writing, to the send part (internal.h has the cut).
 *
 * Never holds a key anywhere but OpenSSL's secure heap (the storage key)
 * or crypto_key objects (freed with cleansing); never logs key material.
 */
#include "agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/stat.h>

#include <openssl/crypto.h>

#include "agent/config.h"
#include "agent/contacts.h"
#include "agent/internal.h"
#include "agent/names.h"
#include "agent/recv/recv.h"
#include "agent/send/outbox.h"
#include "agent/store.h"
#include "agent/trust.h"
#include "agent/view/view.h"
#include "client/client.h"
#include "common/sberr.h"
#include "keyring/keyring.h"
#include "tlog/tlog.h"

/* Requests that make no progress for this long fail (and are retried). */
#define CLIENT_TIMEOUT_MS 10000
/* The keyring is asked again at most this often while it fails. */
#define KEYS_RETRY_MS     1000

/* Contacts replaced by a reload stay allocated until agent_close: other
 * threads may still hold the old pointer (agent_contacts). */
struct retired {
	struct retired *next;
	struct contacts *c;
};
static pthread_mutex_t contacts_lock = PTHREAD_MUTEX_INITIALIZER;
struct contacts_state {
	struct agent *a;
	struct timespec mtime;
	off_t size;
	struct retired *old;
	struct contacts_state *next;
};
static struct contacts_state *contacts_states;

static struct contacts_state *
contacts_state_of(struct agent *a)
{
	for (struct contacts_state *s = contacts_states; s; s = s->next)
		if (s->a == a)
			return s;
	struct contacts_state *s = calloc(1, sizeof(*s));
	if (s) {
		s->a = a;
		s->next = contacts_states;
		contacts_states = s;
	}
	return s;
}

/* Reads HOME/contacts.vcf if its mtime or size changed since the last look. */
static void
contacts_refresh(struct agent *a)
{
	struct contacts_state *s;
	struct stat sb;
	char *path = NULL;

	if (asprintf(&path, "%s/contacts.vcf", a->home) < 0)
		return;
	pthread_mutex_lock(&contacts_lock);
	s = contacts_state_of(a);
	if (s == NULL)
		goto out;
	if (stat(path, &sb) != 0) {
		if (a->contacts && errno == ENOENT) {
			struct retired *r = calloc(1, sizeof(*r));
			if (r) {
				r->c = a->contacts;
				r->next = s->old;
				s->old = r;
				pthread_mutex_lock(&a->lock);
				a->contacts = NULL;
				pthread_mutex_unlock(&a->lock);
			}
			memset(&s->mtime, 0, sizeof(s->mtime));
		}
		goto out;
	}
	if (sb.st_mtim.tv_sec == s->mtime.tv_sec && sb.st_mtim.tv_nsec == s->mtime.tv_nsec &&
	    sb.st_size == s->size)
		goto out;
	if ((size_t)sb.st_size > CONTACTS_MAX_FILE) {
		fprintf(stderr, "sealbox: contacts.vcf is larger than %zu bytes: ignored\n",
		    (size_t)CONTACTS_MAX_FILE);
		goto out;
	}
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		goto out;
	size_t len = (size_t)sb.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	size_t got = buf ? fread(buf, 1, len, f) : 0;
	fclose(f);
	if (buf == NULL)
		goto out;
	struct contacts *c = NULL;
	int rc = contacts_parse(buf, got, &c);
	free(buf);
	if (rc != SB_OK) {
		fprintf(stderr, "sealbox: contacts.vcf: %s\n", sb_strerror(rc));
		goto out;
	}
	if (contacts_skipped(c) > 0)
		fprintf(stderr, "sealbox: contacts.vcf: %zu card(s) skipped\n",
		    contacts_skipped(c));
	struct retired *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		contacts_free(c);
		goto out;
	}
	pthread_mutex_lock(&a->lock);
	r->c = a->contacts;
	a->contacts = c;
	pthread_mutex_unlock(&a->lock);
	r->next = s->old;
	s->old = r;
	s->mtime = sb.st_mtim;
	s->size = sb.st_size;
out:
	pthread_mutex_unlock(&contacts_lock);
	free(path);
}

const struct contacts *
agent_contacts(struct agent *a)
{
	const struct contacts *c;

	contacts_refresh(a);
	pthread_mutex_lock(&a->lock);
	c = a->contacts;
	pthread_mutex_unlock(&a->lock);
	return c;
}

static void
contacts_release_all(struct agent *a)
{
	pthread_mutex_lock(&contacts_lock);
	for (struct contacts_state **pp = &contacts_states; *pp; pp = &(*pp)->next) {
		struct contacts_state *s = *pp;
		if (s->a != a)
			continue;
		*pp = s->next;
		while (s->old) {
			struct retired *r = s->old;
			s->old = r->next;
			contacts_free(r->c);
			free(r);
		}
		free(s);
		break;
	}
	pthread_mutex_unlock(&contacts_lock);
	contacts_free(a->contacts);
	a->contacts = NULL;
}

/* ---- keys ------------------------------------------------------------------ */

static int
keys_load(struct agent *a, struct crypto_key **sign, struct crypto_key **enc,
    struct crypto_identity **id, uint8_t **storage)
{
	char dev[32];
	int rc;

	*sign = *enc = NULL;
	*id = NULL;
	*storage = NULL;
	snprintf(dev, sizeof(dev), "%llu", (unsigned long long)a->cfg->device_id);
	if ((rc = keyring_init()) != SB_OK)
		return rc;
	if ((rc = keyring_load(a->cfg->address, dev, KEYRING_PURPOSE_SIGN, sign)) != SB_OK)
		goto fail;
	if ((rc = keyring_load(a->cfg->address, dev, KEYRING_PURPOSE_ENCRYPT, enc)) != SB_OK)
		goto fail;
	if ((*storage = OPENSSL_secure_malloc(KEYRING_STORAGE_KEY_LEN)) == NULL) {
		rc = SB_ERR_ALLOC;
		goto fail;
	}
	if ((rc = keyring_load_storage_key(a->cfg->address, dev, *storage)) != SB_OK)
		goto fail;
	if ((rc = crypto_identity_from_keys(*sign, *enc, id)) != SB_OK)
		goto fail;
	return SB_OK;
fail:
	fprintf(stderr, "sealbox: keyring: %s%s%s\n", sb_strerror(rc),
	    keyring_error_detail()[0] ? ": " : "", keyring_error_detail());
	crypto_key_free(*sign);
	crypto_key_free(*enc);
	if (*storage)
		OPENSSL_secure_clear_free(*storage, KEYRING_STORAGE_KEY_LEN);
	*sign = *enc = NULL;
	*storage = NULL;
	return rc;
}

static int
ts_before(const struct timespec *x, const struct timespec *y)
{
	return x->tv_sec < y->tv_sec || (x->tv_sec == y->tv_sec && x->tv_nsec < y->tv_nsec);
}

/*
 * The relay announced its next certificate, or the client met it and it
 * is now the current one (PROTOCOL.md 13.10): pinned in the config before
 * the client relies on it.  On the client's I/O thread, which must never
 * take a->lock (see below): the pins are written only here once the
 * client runs, and read only by client_start_locked before it does.
 */
static void
pins_cb(void *arg, const uint8_t fp[CLIENT_FP_LEN], const uint8_t *next)
{
	struct agent *a = arg;
	struct agent_config c = *a->cfg;
	char hex[2 * CLIENT_FP_LEN + 1];
	int rc;

	memcpy(c.fingerprint, fp, CLIENT_FP_LEN);
	c.has_next = next != NULL;
	if (next != NULL)
		memcpy(c.next_fingerprint, next, CLIENT_FP_LEN);
	else
		memset(c.next_fingerprint, 0, CLIENT_FP_LEN);
	rc = config_save(a->home, &c, 0);
	if (rc == SB_OK) {
		memcpy(a->cfg->fingerprint, c.fingerprint, CLIENT_FP_LEN);
		memcpy(a->cfg->next_fingerprint, c.next_fingerprint, CLIENT_FP_LEN);
		a->cfg->has_next = c.has_next;
	}
	sb_hex(next != NULL ? next : fp, CLIENT_FP_LEN, hex);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: relay: cannot pin the relay's %s certificate %s in the"
		    " config: %s\n", next != NULL ? "next" : "new", hex, sb_strerror(rc));
	else if (next != NULL)
		fprintf(stderr, "sealbox: relay: next certificate %s announced; pinned as"
		    " next_fingerprint\n", hex);
	else
		fprintf(stderr, "sealbox: relay: now serving its next certificate %s; pinned as"
		    " fingerprint\n", hex);
}

/*
 * The client pinned the log key (a home made before the log: on first
 * use) or accepted a newer tree head (PROTOCOL.md 14.8): the key goes into
 * the config like the relay's certificate pin, the head into store.db.
 * On the thread that made the request, no client lock held; that thread
 * holds neither a->lock nor db_lock across a request.
 */
static void
log_state_cb(void *arg, const uint8_t key[TLOG_KEY_LEN], const uint8_t *head,
    size_t head_len)
{
	struct agent *a = arg;
	struct tlog_sth sth;
	int rc = SB_OK;

	if (!a->cfg->has_log_key) {
		struct agent_config c = *a->cfg;

		memcpy(c.log_key, key, TLOG_KEY_LEN);
		c.has_log_key = 1;
		if ((rc = config_save(a->home, &c, 0)) == SB_OK) {
			memcpy(a->cfg->log_key, key, TLOG_KEY_LEN);
			a->cfg->has_log_key = 1;
			fprintf(stderr, "sealbox: log: pinned the relay's log key (a home made"
			    " before the transparency log)\n");
		} else {
			fprintf(stderr, "sealbox: log: cannot pin the log key in the config: %s\n",
			    sb_strerror(rc));
		}
	}
	if (head == NULL || head_len == 0 || tlog_sth_parse(head, head_len, &sth) != SB_OK)
		return;
	store_lock(a);
	rc = trust_log_head_put(a->db, head, head_len, sth.size, (int64_t)time(NULL));
	store_unlock(a);
	if (rc != SB_OK)
		fprintf(stderr, "sealbox: log: cannot keep the tree head of size %llu: %s\n",
		    (unsigned long long)sth.size, sb_strerror(rc));
}

/* Starts the relay client with the loaded signing key (a->lock held; the
 * client's thread never takes a->lock, so this cannot deadlock). */
static void
client_start_locked(struct agent *a)
{
	struct client_config cc = {
		.relay = a->cfg->relay,
		.sign_key = a->sign_key,
		.address = a->cfg->address,
		.device_id = a->cfg->device_id,
		.on_push = inbox_on_push,
		.on_pins = pins_cb,
		.on_log_state = log_state_cb,
		.arg = a,
		.request_timeout_ms = CLIENT_TIMEOUT_MS,
	};
	struct sb_buf head = SB_BUF_INIT;
	struct client *c = NULL;
	int rc;

	/* The log as this device knows it: the pinned key, the newest head. */
	if (a->cfg->has_log_key)
		cc.log_key = a->cfg->log_key;
	store_lock(a);
	if (trust_log_head_get(a->db, &head) == SB_OK) {
		cc.log_head = head.d;
		cc.log_head_len = head.len;
	}
	store_unlock(a);

	memcpy(cc.fingerprint, a->cfg->fingerprint, CLIENT_FP_LEN);
	memcpy(cc.next_fingerprint, a->cfg->next_fingerprint, CLIENT_FP_LEN);
	cc.has_next = a->cfg->has_next;
	rc = client_new(&cc, &c);
	sb_buf_free(&head);
	if (rc == SB_OK)
		a->client = c;
	else
		fprintf(stderr, "sealbox: relay client: %s (retried on next use)\n",
		    sb_strerror(rc));
}

int
agent_keys_acquire(struct agent *a)
{
	struct crypto_key *sign, *enc;
	struct crypto_identity *id;
	uint8_t *storage;
	struct timespec now;
	int rc;

	pthread_mutex_lock(&a->lock);
	if (a->sign_key != NULL) {
		/* Keys are there; a client that failed to start is retried. */
		if (a->client == NULL)
			client_start_locked(a);
		pthread_mutex_unlock(&a->lock);
		return SB_OK;
	}
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (a->keys_err != SB_OK && ts_before(&now, &a->out->keys_next_try)) {
		rc = a->keys_err;
		pthread_mutex_unlock(&a->lock);
		return rc;
	}
	a->out->keys_next_try = now;
	a->out->keys_next_try.tv_sec += KEYS_RETRY_MS / 1000;
	pthread_mutex_unlock(&a->lock);

	/* The keyring is a D-Bus round trip (or an activation timeout): never
	 * under a->lock.  Two threads may both load; the second copy is freed. */
	rc = keys_load(a, &sign, &enc, &id, &storage);
	/* The trust store opens (and a home from before sealing is converted)
	 * before anything can use the keys: the sender and the receiver seal
	 * to and verify against its pins. */
	if (rc == SB_OK) {
		store_lock(a);
		if ((rc = trust_store_key(a->db, storage)) == SB_OK &&
		    (rc = trust_self_set(a->db, a->cfg->address, a->cfg->device_id)) == SB_OK)
			rc = trust_store_scan(a->db, (int64_t)time(NULL), stderr);
		store_unlock(a);
		if (rc != SB_OK) {
			fprintf(stderr, "sealbox: trust store: %s\n", sb_strerror(rc));
			crypto_key_free(sign);
			crypto_key_free(enc);
			crypto_identity_free(id);
			OPENSSL_secure_clear_free(storage, KEYRING_STORAGE_KEY_LEN);
		}
	}
	if (rc == SB_OK) {
		pthread_mutex_lock(&a->lock);
		if (a->sign_key == NULL) {
			a->sign_key = sign;
			a->enc_key = enc;
			a->identity = id;
			a->storage_key = storage;
			a->keys_err = SB_OK;
			sign = enc = NULL;
			id = NULL;
			storage = NULL;
			if (a->client == NULL)
				client_start_locked(a);
			fprintf(stderr, "sealbox: keys loaded for %s device %llu\n",
			    a->cfg->address, (unsigned long long)a->cfg->device_id);
		}
		pthread_mutex_unlock(&a->lock);
		crypto_key_free(sign);
		crypto_key_free(enc);
		crypto_identity_free(id);
		if (storage)
			OPENSSL_secure_clear_free(storage, KEYRING_STORAGE_KEY_LEN);
		return SB_OK;
	}
	pthread_mutex_lock(&a->lock);
	a->keys_err = rc;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

struct client *
agent_client(struct agent *a)
{
	struct client *c;

	pthread_mutex_lock(&a->lock);
	c = a->client;
	pthread_mutex_unlock(&a->lock);
	return c;
}

/* ---- open / close ------------------------------------------------------------ */

int
agent_open(const char *home, struct agent **out)
{
	struct agent *a;
	char err[256] = "";
	char *db = NULL;
	int rc;

	*out = NULL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return SB_ERR_ALLOC;
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->db_lock, NULL);
	pthread_mutex_init(&a->sub_lock, NULL);
	pthread_cond_init(&a->sub_ready_cond, NULL);
	a->keys_err = SB_ERR_KEY_MISSING;
	if ((a->home = strdup(home)) == NULL || (a->cfg = calloc(1, sizeof(*a->cfg))) == NULL) {
		rc = SB_ERR_ALLOC;
		goto fail;
	}
	rc = config_load(home, a->cfg, err, sizeof(err));
	if (rc != SB_OK) {
		fprintf(stderr, "sealbox: %s/config: %s%s%s\n", home, sb_strerror(rc),
		    err[0] ? ": " : "", err);
		goto fail;
	}
	contacts_refresh(a);
	if (asprintf(&db, "%s/store.db", home) < 0) {
		db = NULL;
		rc = SB_ERR_ALLOC;
		goto fail;
	}
	if ((rc = store_open(db, &a->db)) != SB_OK)
		goto fail;
	/* Locked until the keys are loaded (agent_keys_acquire binds the
	 * storage key, before either side starts). */
	if ((rc = trust_store_key(a->db, NULL)) != SB_OK)
		goto fail;
	if ((rc = outbox_init(a)) != SB_OK)
		goto fail;
	/* The inbox is ready before the client exists: pushes arrive as soon
	 * as the client has authenticated. */
	if ((rc = inbox_init(a)) != SB_OK)
		goto fail;
	if (agent_keys_acquire(a) != SB_OK)
		fprintf(stderr, "sealbox: keys unavailable (%s): reads answer ENOKEY and"
		    " nothing is sent until the keyring answers\n", sb_strerror(a->keys_err));
	if ((rc = send_start(a)) != SB_OK)
		goto fail;
	free(db);
	*out = a;
	return SB_OK;
fail:
	free(db);
	agent_close(a);
	return rc;
}

void
agent_close(struct agent *a)
{
	if (a == NULL)
		return;
	/* A receiver held for the subscribers must not hold up the stop. */
	agent_subscribed(a);
	/* Threads that may be inside a client request stop before the client. */
	send_stop(a);
	if (a->in)
		inbox_shutdown(a);
	client_free(a->client);
	a->client = NULL;
	outbox_free(a);
	store_close(a->db);
	a->db = NULL;
	crypto_key_free(a->sign_key);
	crypto_key_free(a->enc_key);
	crypto_identity_free(a->identity);
	if (a->storage_key)
		OPENSSL_secure_clear_free(a->storage_key, KEYRING_STORAGE_KEY_LEN);
	contacts_release_all(a);
	free(a->cfg);
	free(a->home);
	pthread_mutex_destroy(&a->lock);
	pthread_mutex_destroy(&a->db_lock);
	pthread_cond_destroy(&a->sub_ready_cond);
	pthread_mutex_destroy(&a->sub_lock);
	free(a);
}

/* ---- dispatch ---------------------------------------------------------------- */

static int
box_ok(enum agent_box box)
{
	return box == AGENT_BOX_OUT || box == AGENT_BOX_IN;
}

/*
 * The outbox folder a name means (issue 17): a name made only of addresses
 * is spelled canonically (names_resolve without contacts, then
 * names_group_canonical: "Bob@Example.com" -> "bob@example.com", groups
 * sorted), so every spelling of one conversation is one folder.  Contact
 * names and anything else are kept as typed.  A folder stored under a
 * non-canonical spelling before this rule keeps answering to it.  Returns
 * folder itself or buf (NAMES_NAME_BUF bytes).
 */
static const char *
out_folder(struct agent *a, const char *folder, char *buf)
{
	struct names_recipients *r = NULL;
	struct agent_attr at;
	int ok;

	if (folder == NULL || names_resolve(NULL, folder, strlen(folder), &r) != SB_OK)
		return folder;
	ok = names_group_canonical(r, buf, NAMES_NAME_BUF) == SB_OK;
	names_recipients_free(r);
	if (!ok || strcmp(buf, folder) == 0)
		return folder;
	if (outview_folder_attr(a, buf, &at) != SB_OK &&
	    outview_folder_attr(a, folder, &at) == SB_OK)
		return folder;
	return buf;
}

int
agent_statfs(struct agent *a, struct statvfs *out)
{
	return statvfs(a->home, out) == 0 ? SB_OK : SB_ERR_SYSTEM;
}

int
agent_box_attr(struct agent *a, enum agent_box box, struct agent_attr *out)
{
	if (!box_ok(box))
		return SB_ERR_INVALID_ARG;
	/* inbox/ looks writable to its owner, like the sender folders in it,
	 * only so that the mount's own announcement of a new sender's folder
	 * (fs/announce.c, a mkdir through the kernel) passes the kernel's
	 * mode check; nothing can be made there (EROFS). */
	return outbox_box_attr(a, out);
}

int
agent_list_folders(struct agent *a, enum agent_box box, agent_fill_fn fill, void *ctx)
{
	if (box == AGENT_BOX_OUT)
		return outview_list_folders(a, fill, ctx);
	if (box == AGENT_BOX_IN)
		return inbox_list_folders(a, box, fill, ctx);
	return SB_ERR_INVALID_ARG;
}

int
agent_folder_attr(struct agent *a, enum agent_box box, const char *folder,
    struct agent_attr *out)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_folder_attr(a, out_folder(a, folder, fb), out);
	if (box == AGENT_BOX_IN)
		return inbox_folder_attr(a, box, folder, out);
	return SB_ERR_INVALID_ARG;
}

int
agent_folder_create(struct agent *a, enum agent_box box, const char *folder)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_folder_create(a, out_folder(a, folder, fb));
	return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
}

int
agent_folder_remove(struct agent *a, enum agent_box box, const char *folder)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_folder_remove(a, out_folder(a, folder, fb));
	return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
}

int
agent_list_dir(struct agent *a, enum agent_box box, const char *folder,
    const char *dir, agent_fill_fn fill, void *ctx)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_list_files(a, out_folder(a, folder, fb), dir, fill, ctx);
	if (box == AGENT_BOX_IN)
		return inbox_list_files(a, box, folder, dir, fill, ctx);
	return SB_ERR_INVALID_ARG;
}

int
agent_list_files(struct agent *a, enum agent_box box, const char *folder,
    agent_fill_fn fill, void *ctx)
{
	return agent_list_dir(a, box, folder, NULL, fill, ctx);
}

int
agent_dir_create(struct agent *a, enum agent_box box, const char *folder,
    const char *path)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_dir_create(a, out_folder(a, folder, fb), path);
	return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
}

int
agent_dir_remove(struct agent *a, enum agent_box box, const char *folder,
    const char *path)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_dir_remove(a, out_folder(a, folder, fb), path);
	if (box == AGENT_BOX_IN)
		return inbox_dir_remove(a, box, folder, path);
	return SB_ERR_INVALID_ARG;
}

int
agent_file_attr(struct agent *a, enum agent_box box, const char *folder,
    const char *name, struct agent_attr *out)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_file_attr(a, out_folder(a, folder, fb), name, out);
	if (box == AGENT_BOX_IN)
		return inbox_file_attr(a, box, folder, name, out);
	return SB_ERR_INVALID_ARG;
}

int
agent_file_open(struct agent *a, enum agent_box box, const char *folder,
    const char *name, int flags, struct agent_file **out)
{
	char fb[NAMES_NAME_BUF];

	*out = NULL;
	if (box == AGENT_BOX_OUT)
		return outview_file_open(a, out_folder(a, folder, fb), name, flags, out);
	if (box != AGENT_BOX_IN)
		return SB_ERR_INVALID_ARG;
	if (flags & (AGENT_OPEN_WRITE | AGENT_OPEN_TRUNC | AGENT_OPEN_CREATE))
		return SB_ERR_READONLY;
	return inbox_file_open(a, box, folder, name, out);
}

/* ---- trust: MNT/alerts and the folders' xattr ---------------------------- */

struct alerts_file {
	struct agent_file head;
	struct sb_buf text;
};

static int
alerts_text(struct agent *a, struct sb_buf *out, int64_t *newest)
{
	int rc;

	store_lock(a);
	rc = trust_alerts_text(a->db, 0, NULL, out);
	if (rc == SB_OK && newest != NULL)
		rc = store_query_int(a->db, "SELECT max(sb_open('trust_alerts', 'time', address,"
		    " id, time)) FROM trust_alerts", NULL, 0, newest);
	store_unlock(a);
	return rc;
}

int
agent_alerts_attr(struct agent *a, struct agent_attr *out)
{
	struct sb_buf t = SB_BUF_INIT;
	int64_t newest = 0;
	int rc = alerts_text(a, &t, &newest);

	memset(out, 0, sizeof(*out));
	if (rc == SB_OK) {
		out->size = t.len;
		out->mtime.tv_sec = newest;
		out->ctime.tv_sec = newest;
		out->mode = 0400;
	}
	sb_buf_free(&t);
	return rc;
}

int
agent_alerts_open(struct agent *a, struct agent_file **out)
{
	struct alerts_file *f = calloc(1, sizeof(*f));
	int rc;

	*out = NULL;
	if (f == NULL)
		return SB_ERR_ALLOC;
	f->head.kind = AGENT_FILE_ALERTS;
	f->head.a = a;
	/* One snapshot per open: a reader sees whole lines, never a line
	 * added between two reads cut in half. */
	if ((rc = alerts_text(a, &f->text, NULL)) != SB_OK) {
		sb_buf_free(&f->text);
		free(f);
		return rc;
	}
	*out = &f->head;
	return SB_OK;
}

static int
alerts_read(struct agent_file *af, void *buf, size_t size, uint64_t off, size_t *got)
{
	struct alerts_file *f = (struct alerts_file *)af;

	*got = 0;
	if (off < f->text.len) {
		*got = f->text.len - (size_t)off < size ? f->text.len - (size_t)off : size;
		memcpy(buf, f->text.d + off, *got);
	}
	return SB_OK;
}

static int
alerts_release(struct agent_file *af)
{
	struct alerts_file *f = (struct alerts_file *)af;

	sb_buf_free(&f->text);
	free(f);
	return SB_OK;
}

int
agent_folder_xattr_get(struct agent *a, enum agent_box box, const char *folder,
    const char *attr, struct sb_buf *out)
{
	struct names_recipients *r = NULL;
	const char *addrs[SB_MAX_LOOKUP_ADDRS];
	char text[TRUST_LINE_BUF + 32];
	struct agent_attr at;
	size_t n;
	int rc;

	if (strcmp(attr, AGENT_XATTR_TRUST) != 0)
		return SB_ERR_NOT_FOUND;
	if ((rc = agent_folder_attr(a, box, folder, &at)) != SB_OK)
		return rc;
	/* An inbox folder is named like an outbox one (an address, or a
	 * contact's name or inbox folder name): the same resolution. */
	if ((rc = names_resolve(agent_contacts(a), folder, strlen(folder), &r)) != SB_OK) {
		/* A folder no longer resolvable (its contact left the file):
		 * nothing is known about it. */
		snprintf(text, sizeof(text), "unverified");
		return sb_put_bytes(out, text, strlen(text));
	}
	n = names_recipients_count(r);
	if (n > SB_MAX_LOOKUP_ADDRS)
		n = SB_MAX_LOOKUP_ADDRS;
	for (size_t i = 0; i < n; i++)
		addrs[i] = names_recipients_get(r, i);
	store_lock(a);
	rc = trust_folder_state(a->db, addrs, n, text, sizeof(text));
	store_unlock(a);
	names_recipients_free(r);
	return rc == SB_OK ? sb_put_bytes(out, text, strlen(text)) : rc;
}

int
agent_folder_xattr_list(struct agent *a, enum agent_box box, const char *folder,
    struct sb_buf *out)
{
	struct agent_attr at;
	int rc = agent_folder_attr(a, box, folder, &at);

	return rc == SB_OK ? sb_put_bytes(out, AGENT_XATTR_TRUST, sizeof(AGENT_XATTR_TRUST)) : rc;
}

int
agent_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off, size_t *got)
{
	*got = 0;
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_read(f, buf, size, off, got);
	if (f->kind == AGENT_FILE_ALERTS)
		return alerts_read(f, buf, size, off, got);
	return inbox_file_read(f, buf, size, off, got);
}

int
agent_file_write(struct agent_file *f, const void *buf, size_t size, uint64_t off)
{
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_write(f, buf, size, off);
	return SB_ERR_READONLY;
}

int
agent_file_truncate(struct agent_file *f, uint64_t size)
{
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_truncate(f, size);
	return SB_ERR_READONLY;
}

int
agent_file_flush(struct agent_file *f)
{
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_flush(f);
	return SB_OK;
}

int
agent_sync(struct agent *a)
{
	return spool_sync_wait(a, NULL, 1);
}

int
agent_file_fsync(struct agent_file *f)
{
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_fsync(f);
	return SB_OK;
}

int
agent_file_release(struct agent_file *f)
{
	if (f == NULL)
		return SB_OK;
	if (f->kind == AGENT_FILE_OUT)
		return outbox_file_release(f);
	if (f->kind == AGENT_FILE_ALERTS)
		return alerts_release(f);
	return inbox_file_release(f);
}

int
agent_truncate(struct agent *a, enum agent_box box, const char *folder,
    const char *name, uint64_t size)
{
	char fb[NAMES_NAME_BUF];
	struct agent_file *f = NULL;
	int rc, rc2;

	if (box != AGENT_BOX_OUT)
		return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
	rc = outview_truncate(a, out_folder(a, folder, fb), name, size);
	if (rc != SB_ERR_PERMISSION)
		return rc;
	/* A sent file: truncate(2) by path behaves as open + ftruncate +
	 * close would (issue 13, point 4), a write session of its own that
	 * sends the new version when it ends.  A file that may not be written
	 * at all (a synced copy) still refuses the open. */
	rc = agent_file_open(a, box, folder, name, AGENT_OPEN_WRITE, &f);
	if (rc != SB_OK)
		return rc;
	rc = agent_file_truncate(f, size);
	rc2 = agent_file_flush(f);
	if (rc == SB_OK)
		rc = rc2;
	rc2 = agent_file_release(f);
	return rc == SB_OK ? rc2 : rc;
}

int
agent_set_times(struct agent *a, enum agent_box box, const char *folder,
    const char *name, const struct timespec *atime, const struct timespec *mtime)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_set_times(a, out_folder(a, folder, fb), name, atime, mtime);
	return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
}

int
agent_unlink(struct agent *a, enum agent_box box, const char *folder,
    const char *name)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_unlink(a, out_folder(a, folder, fb), name);
	if (box == AGENT_BOX_IN)
		return inbox_unlink(a, box, folder, name);
	return SB_ERR_INVALID_ARG;
}

int
agent_rename(struct agent *a, enum agent_box box, const char *from_folder,
    const char *from_name, const char *to_folder, const char *to_name)
{
	char fb[NAMES_NAME_BUF], fb2[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_rename(a, out_folder(a, from_folder, fb),
		    from_name, out_folder(a, to_folder, fb2), to_name);
	return box == AGENT_BOX_IN ? SB_ERR_READONLY : SB_ERR_INVALID_ARG;
}

int
agent_xattr_get(struct agent *a, enum agent_box box, const char *folder,
    const char *name, const char *attr, struct sb_buf *out)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_xattr_get(a, out_folder(a, folder, fb), name, attr, out);
	if (box == AGENT_BOX_IN)
		return inbox_xattr_get(a, box, folder, name, attr, out);
	return SB_ERR_INVALID_ARG;
}

int
agent_xattr_list(struct agent *a, enum agent_box box, const char *folder,
    const char *name, struct sb_buf *out)
{
	char fb[NAMES_NAME_BUF];

	if (box == AGENT_BOX_OUT)
		return outview_xattr_list(a, out_folder(a, folder, fb), name, out);
	if (box == AGENT_BOX_IN)
		return inbox_xattr_list(a, box, folder, name, out);
	return SB_ERR_INVALID_ARG;
}

/* ---- arrivals and the list of received messages ----------------------------- */

int
agent_subscribe(struct agent *a, agent_arrival_fn fn, void *ctx)
{
	int rc = SB_ERR_TOO_BIG;

	pthread_mutex_lock(&a->sub_lock);
	if (a->n_subs < AGENT_SUBSCRIBERS_MAX) {
		a->subs[a->n_subs].fn = fn;
		a->subs[a->n_subs].ctx = ctx;
		a->n_subs++;
		rc = SB_OK;
	}
	pthread_mutex_unlock(&a->sub_lock);
	return rc;
}

void
agent_unsubscribe(struct agent *a, agent_arrival_fn fn, void *ctx)
{
	size_t i;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->sub_lock);
	for (i = 0; i < a->n_subs; i++) {
		if (a->subs[i].fn == fn && a->subs[i].ctx == ctx) {
			memmove(&a->subs[i], &a->subs[i + 1], (a->n_subs - i - 1) * sizeof(a->subs[0]));
			a->n_subs--;
			break;
		}
	}
	pthread_mutex_unlock(&a->sub_lock);
}

void
agent_subscribed(struct agent *a)
{
	pthread_mutex_lock(&a->sub_lock);
	a->sub_ready = 1;
	pthread_cond_broadcast(&a->sub_ready_cond);
	pthread_mutex_unlock(&a->sub_lock);
}

static int
count_one(void *ctx, const char *name, const struct agent_attr *attr)
{
	(void)name;
	(void)attr;
	return ++*(int *)ctx > 1;    /* two are enough to know */
}

void
agent_arrived(struct agent *a, struct agent_arrival *ev)
{
	size_t i;
	int n = 0;

	/* inbox/: the receiver looked inside the transaction that stored the
	 * message (before the others of its batch).  outbox/ merges our own
	 * files with synced copies: as the folder is listed now. */
	if (ev->box != AGENT_BOX_IN) {
		agent_list_files(a, ev->box, ev->folder, count_one, &n);
		ev->new_folder = n <= 1;
	}
	pthread_mutex_lock(&a->sub_lock);
	while (!a->sub_ready)
		pthread_cond_wait(&a->sub_ready_cond, &a->sub_lock);
	for (i = 0; i < a->n_subs; i++)
		a->subs[i].fn(a->subs[i].ctx, ev);
	pthread_mutex_unlock(&a->sub_lock);
}

int
agent_inbox_each(struct agent *a, const char *folder, agent_msg_fn fn, void *ctx)
{
	return inbox_each(a, folder, NULL, 0, fn, ctx);
}

int
agent_inbox_find(struct agent *a, const uint8_t msgid[16], uint64_t device,
    agent_msg_fn fn, void *ctx)
{
	return inbox_each(a, NULL, msgid, device, fn, ctx);
}

int
agent_file_message(struct agent_file *f, struct sb_buf *to, struct sb_buf *name)
{
	if (f == NULL || f->kind != AGENT_FILE_IN)
		return SB_ERR_INVALID_ARG;
	return inbox_file_message(f, to, name);
}
