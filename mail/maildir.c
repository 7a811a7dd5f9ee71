/*
 * maildir.c - the namespace under MNT/maildir (mail.h), over agent.h:
 *
 *   maildir/                   Maildir++ root (INBOX): cur/ new/ tmp/, empty
 *   maildir/.FOLDER/           one per inbox folder (mail_folder_name)
 *   maildir/.FOLDER/cur/NAME   each of its messages (mail_file_name)
 *   maildir/.FOLDER/new/, tmp/ empty
 *
 * Every message lives in its sender's folder only, so a client indexing
 * the whole tree (notmuch) meets each once.  All of them are in cur/ and
 * flagged seen (":2,S"): a read-only view cannot record that a message was
 * read (a client marks it so by renaming it out of new/, which is EROFS
 * here), and mail that stays "new" forever is worse than none.
 *
 * Found by name: a message's name carries its (message id, device), which
 * agent_inbox_find looks up; its folder and time must agree with the path.
 * A message's rendered size needs its recipients and, up to MAIL_TEXT_MAX,
 * its content (is it text?), so the first stat opens and verifies it; the
 * size is then cached (a message never changes; a removed one is no longer
 * found, so its entry is never used again).
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/sberr.h"
#include "mail.h"

/* Sizes remembered, direct-mapped by (id, device): bounded memory, a
 * collision only costs one more render. */
#define SIZE_SLOTS 4096

struct size_slot {
	int used;
	uint8_t msgid[MAIL_MSGID_LEN];
	uint64_t device;
	uint64_t size;
};

struct mail_view {
	struct agent *a;
	pthread_mutex_t lock;
	struct size_slot slots[SIZE_SLOTS];
};

struct mail_file {
	struct agent_file *f;
	struct mail_render *r;
};

static const char *const subdirs[] = { "cur", "new", "tmp" };

int
mail_view_new(struct agent *a, struct mail_view **out)
{
	struct mail_view *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (v == NULL)
		return SB_ERR_ALLOC;
	v->a = a;
	pthread_mutex_init(&v->lock, NULL);
	*out = v;
	return SB_OK;
}

void
mail_view_free(struct mail_view *v)
{
	if (v == NULL)
		return;
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static int
is_subdir(const char *s)
{
	size_t i;

	for (i = 0; i < 3; i++)
		if (strcmp(s, subdirs[i]) == 0)
			return 1;
	return 0;
}

static void
dir_attr(struct agent_attr *out, const struct timespec *t)
{
	memset(out, 0, sizeof(*out));
	out->is_dir = 1;
	out->mode = 0500;
	out->mtime = *t;
	out->ctime = *t;
}

static int
ts_after(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec > b->tv_nsec);
}

/* ---- Folders ------------------------------------------------------------------- */

/* The Maildir++ folders, each with its newest arrival: the inbox folders
 * mapped by mail_folder_name (two may map to one). */
struct mdfolder {
	struct mdfolder *next;
	struct timespec newest;
	char name[MAIL_FOLDER_BUF];
};

struct folders_ctx {
	struct mdfolder *head;
	int err;
};

static int
add_folder(void *vctx, const char *name, const struct agent_attr *attr)
{
	struct folders_ctx *c = vctx;
	struct mdfolder *f, **pp;
	char md[MAIL_FOLDER_BUF];

	if (mail_folder_name(name, md, sizeof(md)) != SB_OK)
		return 0;
	for (pp = &c->head; *pp && strcmp((*pp)->name, md) < 0; pp = &(*pp)->next)
		;
	if (*pp && strcmp((*pp)->name, md) == 0) {
		if (ts_after(&attr->ctime, &(*pp)->newest))
			(*pp)->newest = attr->ctime;
		return 0;
	}
	if ((f = calloc(1, sizeof(*f))) == NULL) {
		c->err = SB_ERR_ALLOC;
		return 1;
	}
	memcpy(f->name, md, sizeof(md));
	f->newest = attr->ctime;
	f->next = *pp;
	*pp = f;
	return 0;
}

static void
folders_free(struct mdfolder *f)
{
	struct mdfolder *n;

	for (; f != NULL; f = n) {
		n = f->next;
		free(f);
	}
}

static int
folders(struct mail_view *v, struct mdfolder **out)
{
	struct folders_ctx c = { NULL, SB_OK };
	int rc = agent_list_folders(v->a, AGENT_BOX_IN, add_folder, &c);

	if (rc == SB_OK)
		rc = c.err;
	if (rc != SB_OK) {
		folders_free(c.head);
		c.head = NULL;
	}
	*out = c.head;
	return rc;
}

/* The times of Maildir++ folder md (NULL: the newest of all). */
static int
folder_time(struct mail_view *v, const char *md, struct timespec *t)
{
	struct mdfolder *head, *f;
	int rc = folders(v, &head), found = md == NULL;

	memset(t, 0, sizeof(*t));
	if (rc != SB_OK)
		return rc;
	for (f = head; f != NULL; f = f->next) {
		if (md != NULL && strcmp(f->name, md) != 0)
			continue;
		found = 1;
		if (ts_after(&f->newest, t))
			*t = f->newest;
	}
	folders_free(head);
	return found ? SB_OK : SB_ERR_NOT_FOUND;
}

/* ---- Messages ------------------------------------------------------------------ */

/* A copy of one agent_msg (its strings borrowed only for the callback). */
struct msg {
	char folder[MAIL_FOLDER_BUF + 2];
	char *name;
	char sender[MAIL_STR_MAX + 1];
	uint64_t device;
	uint8_t msgid[MAIL_MSGID_LEN];
	uint64_t sent, size;
	struct timespec arrived;
};

static int
msg_copy(void *vctx, const struct agent_msg *m)
{
	struct msg *out = vctx;

	if (strlen(m->folder) >= sizeof(out->folder) || strlen(m->sender) >= sizeof(out->sender))
		return 0;
	free(out->name);
	if ((out->name = strdup(m->name)) == NULL)
		return 1;
	memcpy(out->folder, m->folder, strlen(m->folder) + 1);
	memcpy(out->sender, m->sender, strlen(m->sender) + 1);
	out->device = m->sender_device;
	memcpy(out->msgid, m->msgid, MAIL_MSGID_LEN);
	out->sent = m->sent;
	out->size = m->size;
	out->arrived = m->arrived;
	return 1;
}

/* The message named md/cur/name, if it is there. */
static int
find(struct mail_view *v, const char *md, const char *name, struct msg *out)
{
	char want[MAIL_FOLDER_BUF];
	uint8_t id[MAIL_MSGID_LEN];
	uint64_t date, dev;
	int rc;

	memset(out, 0, sizeof(*out));
	if (mail_file_name_parse(name, &date, id, &dev) != SB_OK)
		return SB_ERR_NOT_FOUND;
	rc = agent_inbox_find(v->a, id, dev, msg_copy, out);
	if (rc == SB_OK && out->name == NULL)
		rc = SB_ERR_ALLOC;
	if (rc == SB_OK && (mail_folder_name(out->folder, want, sizeof(want)) != SB_OK ||
	    strcmp(want, md) != 0 || out->sent != date))
		rc = SB_ERR_NOT_FOUND;
	if (rc != SB_OK) {
		free(out->name);
		out->name = NULL;
	}
	return rc;
}

/* Content reads for the renderer: the agent's verified reads. */
static int
src_read(void *ctx, void *buf, size_t n, uint64_t off, size_t *got)
{
	return agent_file_read(ctx, buf, n, off, got);
}

/* Opens the message and lays out its rendering. */
static int
render(struct mail_view *v, const struct msg *m, struct agent_file **fout,
    struct mail_render **rout)
{
	struct sb_buf to = SB_BUF_INIT, name = SB_BUF_INIT;
	const char *tov[MAIL_TO_MAX];
	struct agent_file *f = NULL;
	struct mail_meta meta;
	uint8_t *head = NULL;
	size_t n_to = 0, i, got = 0;
	int rc;

	*fout = NULL;
	*rout = NULL;
	rc = agent_file_open(v->a, AGENT_BOX_IN, m->folder, m->name, AGENT_OPEN_READ, &f);
	if (rc == SB_OK)
		rc = agent_file_message(f, &to, &name);
	for (i = 0; rc == SB_OK && i < to.len; i += strlen((const char *)to.d + i) + 1) {
		if (n_to == MAIL_TO_MAX || memchr(to.d + i, '\0', to.len - i) == NULL) {
			rc = SB_ERR_FORMAT;
			break;
		}
		tov[n_to++] = (const char *)to.d + i;
	}
	if (rc == SB_OK && (name.len == 0 || name.d[name.len - 1] != '\0'))
		rc = SB_ERR_FORMAT;
	memset(&meta, 0, sizeof(meta));
	meta.body = MAIL_BODY_ATTACHMENT;
	/* Only content that could be shown as text is read to classify it. */
	if (rc == SB_OK && m->size <= MAIL_TEXT_MAX) {
		head = malloc(m->size > 0 ? (size_t)m->size : 1);
		rc = head ? SB_OK : SB_ERR_ALLOC;
		for (i = 0; rc == SB_OK && i < m->size; i += got) {
			rc = agent_file_read(f, head + i, (size_t)m->size - i, i, &got);
			if (rc == SB_OK && got == 0)
				rc = SB_ERR_LENGTH;
		}
		if (rc == SB_OK)
			meta.body = mail_classify(head, (size_t)m->size, m->size);
		if (head != NULL) {
			memset(head, 0, (size_t)m->size);    /* plaintext */
			free(head);
		}
	}
	if (rc == SB_OK) {
		meta.from = m->sender;
		meta.to = tov;
		meta.n_to = n_to;
		meta.date = m->sent;
		meta.subject = (const char *)name.d;
		meta.msgid = m->msgid;
		meta.device = m->device;
		meta.size = m->size;
		rc = mail_render_new(&meta, rout);
	}
	sb_buf_free(&to);
	sb_buf_free(&name);
	if (rc != SB_OK) {
		if (f != NULL)
			agent_file_release(f);
		return rc;
	}
	*fout = f;
	return SB_OK;
}

static struct size_slot *
slot_of(struct mail_view *v, const uint8_t *msgid, uint64_t device)
{
	uint64_t h = device * UINT64_C(0x9e3779b97f4a7c15);
	size_t i;

	for (i = 0; i < 8; i++)
		h = (h ^ msgid[i]) * UINT64_C(0x100000001b3);
	return &v->slots[h % SIZE_SLOTS];
}

static int
message_size(struct mail_view *v, const struct msg *m, uint64_t *size)
{
	struct size_slot *s = slot_of(v, m->msgid, m->device);
	struct agent_file *f;
	struct mail_render *r;
	int rc, hit;

	pthread_mutex_lock(&v->lock);
	hit = s->used && s->device == m->device && memcmp(s->msgid, m->msgid, MAIL_MSGID_LEN) == 0;
	*size = s->size;
	pthread_mutex_unlock(&v->lock);
	if (hit)
		return SB_OK;
	if ((rc = render(v, m, &f, &r)) != SB_OK)
		return rc;
	*size = mail_render_size(r);
	mail_render_free(r);
	agent_file_release(f);
	pthread_mutex_lock(&v->lock);
	s->used = 1;
	s->device = m->device;
	memcpy(s->msgid, m->msgid, MAIL_MSGID_LEN);
	s->size = *size;
	pthread_mutex_unlock(&v->lock);
	return SB_OK;
}

/* ---- The namespace ---------------------------------------------------------------- */

int
mail_view_attr(struct mail_view *v, const char *const *comp, int n, struct agent_attr *out)
{
	struct timespec t;
	struct msg m;
	int rc;

	memset(out, 0, sizeof(*out));
	if (n == 0 || (n == 1 && is_subdir(comp[0]))) {
		if ((rc = folder_time(v, NULL, &t)) != SB_OK)
			return rc;
		dir_attr(out, &t);
		return SB_OK;
	}
	if (comp[0][0] != '.' || n > 3 || (n >= 2 && !is_subdir(comp[1])) ||
	    (n == 3 && strcmp(comp[1], "cur") != 0))
		return SB_ERR_NOT_FOUND;
	if ((rc = folder_time(v, comp[0], &t)) != SB_OK)
		return rc;
	if (n < 3) {
		dir_attr(out, &t);
		return SB_OK;
	}
	if ((rc = find(v, comp[0], comp[2], &m)) != SB_OK)
		return rc;
	rc = message_size(v, &m, &out->size);
	free(m.name);
	if (rc != SB_OK)
		return rc;
	out->mode = 0400;
	out->mtime.tv_sec = (time_t)m.sent;
	out->ctime = m.arrived;
	return SB_OK;
}

struct list_ctx {
	const char *md;
	struct agent_attr attr;
	agent_fill_fn fill;
	void *ctx;
	int full;
};

static int
list_one(void *vctx, const struct agent_msg *m)
{
	struct list_ctx *c = vctx;
	char md[MAIL_FOLDER_BUF], name[MAIL_NAME_BUF];

	if (mail_folder_name(m->folder, md, sizeof(md)) != SB_OK || strcmp(md, c->md) != 0 ||
	    mail_file_name(m->sent, m->msgid, m->sender_device, name, sizeof(name)) != SB_OK)
		return 0;
	/* Only the type counts in a listing (no readdirplus): the size
	 * comes with the stat that follows, so nothing is rendered here. */
	c->attr.mtime.tv_sec = (time_t)m->sent;
	c->attr.ctime = m->arrived;
	return c->full = c->fill(c->ctx, name, &c->attr);
}

int
mail_view_list(struct mail_view *v, const char *const *comp, int n, agent_fill_fn fill,
    void *ctx)
{
	struct mdfolder *head = NULL, *f;
	struct agent_attr at;
	struct list_ctx lc;
	size_t i;
	int rc;

	if ((rc = mail_view_attr(v, comp, n, &at)) != SB_OK)
		return rc;
	if (!at.is_dir)
		return SB_ERR_INVALID_ARG;
	if (n == 0 || (n == 1 && comp[0][0] == '.')) {
		for (i = 0; i < 3; i++)
			if (fill(ctx, subdirs[i], &at) != 0)
				return SB_OK;
		if (n == 1 || (rc = folders(v, &head)) != SB_OK)
			return rc;
		for (f = head; f != NULL; f = f->next) {
			dir_attr(&at, &f->newest);
			if (fill(ctx, f->name, &at) != 0)
				break;
		}
		folders_free(head);
		return SB_OK;
	}
	if (n != 2 || strcmp(comp[1], "cur") != 0)
		return SB_OK;            /* new/, tmp/ and the root's: empty */
	memset(&lc, 0, sizeof(lc));
	lc.md = comp[0];
	lc.attr.mode = 0400;
	lc.fill = fill;
	lc.ctx = ctx;
	return agent_inbox_each(v->a, NULL, list_one, &lc);
}

int
mail_view_open(struct mail_view *v, const char *const *comp, int n, struct mail_file **out)
{
	struct mail_file *mf;
	struct msg m;
	int rc;

	*out = NULL;
	if (n != 3 || comp[0][0] != '.' || strcmp(comp[1], "cur") != 0)
		return SB_ERR_NOT_FOUND;
	if ((rc = find(v, comp[0], comp[2], &m)) != SB_OK)
		return rc;
	if ((mf = calloc(1, sizeof(*mf))) == NULL)
		rc = SB_ERR_ALLOC;
	else
		rc = render(v, &m, &mf->f, &mf->r);
	free(m.name);
	if (rc != SB_OK) {
		free(mf);
		return rc;
	}
	*out = mf;
	return SB_OK;
}

int
mail_view_read(struct mail_file *f, void *buf, size_t size, uint64_t off, size_t *got)
{
	return mail_render_read(f->r, src_read, f->f, buf, size, off, got);
}

void
mail_view_release(struct mail_file *f)
{
	if (f == NULL)
		return;
	mail_render_free(f->r);
	agent_file_release(f->f);
	free(f);
}
