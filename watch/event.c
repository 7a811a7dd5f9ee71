/*
 * event.c - what a watcher and the hook are told of one arrival (watch.h):
 * the text line, the JSON object, the hook's environment.  Pure: no I/O,
 * no clock, no locale.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/names.h"
#include "common/sberr.h"
#include "watch.h"

static int
put_str(struct sb_buf *b, const char *s)
{
	return sb_put_bytes(b, s, strlen(s));
}

int
watch_event_path(const struct watch_event *ev, struct sb_buf *out)
{
	put_str(out, ev->mount);
	put_str(out, "/inbox/");
	put_str(out, ev->folder);
	sb_put_u8(out, '/');
	put_str(out, ev->name);
	return sb_put_u8(out, '\0');
}

/* "2026-11-22T06:01:02Z", or with nsec >= 0 "...02.123456789Z". */
static int
put_time(struct sb_buf *b, uint64_t sec, long nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char s[48];
	int n;

	if (gmtime_r(&t, &tm) == NULL)
		return SB_ERR_INVALID_ARG;
	n = snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
	    tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	if (nsec >= 0)
		n += snprintf(s + n, sizeof(s) - (size_t)n, ".%09ld", nsec);
	snprintf(s + n, sizeof(s) - (size_t)n, "Z");
	return put_str(b, s);
}

int
watch_format_text(const struct watch_event *ev, struct sb_buf *out)
{
	struct sb_buf path = SB_BUF_INIT;
	char num[32];
	size_t i, start = out->len;
	int rc = watch_event_path(ev, &path);

	if (rc != SB_OK) {
		sb_buf_free(&path);
		return rc;
	}
	sb_put_bytes(out, path.d, path.len - 1);
	sb_put_u8(out, '\t');
	put_str(out, ev->sender);
	snprintf(num, sizeof(num), "\t%" PRIu64 "\tverified", ev->size);
	put_str(out, num);
	sb_buf_free(&path);
	if (out->err == SB_OK)
		for (i = start; i < out->len; i++)
			if ((out->d[i] < 0x20 && out->d[i] != '\t') || out->d[i] == 0x7f)
				out->d[i] = '?';
	return sb_put_u8(out, '\n');
}

/* A JSON string (RFC 8259 7): quotes, backslash and controls escaped;
 * invalid UTF-8 as U+FFFD, so the output is always valid UTF-8. */
static int
put_json_str(struct sb_buf *b, const char *s, size_t n)
{
	struct sb_reader r;
	uint32_t cp;
	char u[8];
	int rc;

	sb_put_u8(b, '"');
	sb_reader_init(&r, s, n);
	while ((rc = names_utf8_next(&r, &cp)) >= 0) {
		if (cp == '"' || cp == '\\') {
			sb_put_u8(b, '\\');
			sb_put_u8(b, (uint8_t)cp);
		} else if (cp < 0x20 || cp == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", (unsigned)cp);
			put_str(b, u);
		} else {
			sb_put_bytes(b, u, names_utf8_put(cp, u));
		}
	}
	return sb_put_u8(b, '"');
}

static void
json_field(struct sb_buf *b, const char *key, const char *val, int first)
{
	if (!first)
		sb_put_u8(b, ',');
	put_json_str(b, key, strlen(key));
	sb_put_u8(b, ':');
	put_json_str(b, val, strlen(val));
}

int
watch_format_json(const struct watch_event *ev, struct sb_buf *out)
{
	struct sb_buf path = SB_BUF_INIT;
	char dev[17], id[2 * WATCH_MSGID_LEN + 1], num[48];
	int rc = watch_event_path(ev, &path);

	if (rc != SB_OK) {
		sb_buf_free(&path);
		return rc;
	}
	snprintf(dev, sizeof(dev), "%016" PRIx64, ev->device);
	sb_hex(ev->msgid, WATCH_MSGID_LEN, id);
	sb_put_u8(out, '{');
	json_field(out, "path", (const char *)path.d, 1);
	json_field(out, "folder", ev->folder, 0);
	json_field(out, "name", ev->name, 0);
	json_field(out, "sender", ev->sender, 0);
	json_field(out, "device", dev, 0);
	json_field(out, "id", id, 0);
	snprintf(num, sizeof(num), ",\"size\":%" PRIu64 ",\"sent\":\"", ev->size);
	put_str(out, num);
	put_time(out, ev->sent, -1);
	put_str(out, "\",\"arrived\":\"");
	put_time(out, (uint64_t)ev->arrived.tv_sec, ev->arrived.tv_nsec);
	put_str(out, "\",\"verified\":true}\n");
	sb_buf_free(&path);
	return out->err;
}

/* ---- The hook's environment ---------------------------------------------------- */

/* Appends "key=value" (malloc'd) at env[*n]. */
static int
env_add(char **env, size_t *n, const char *key, const char *val)
{
	size_t len = strlen(key) + 1 + strlen(val) + 1;

	if ((env[*n] = malloc(len)) == NULL)
		return SB_ERR_ALLOC;
	snprintf(env[*n], len, "%s=%s", key, val);
	(*n)++;
	return SB_OK;
}

void
watch_env_free(char **envp)
{
	size_t i;

	if (envp == NULL)
		return;
	for (i = 0; envp[i] != NULL; i++)
		free(envp[i]);
	free(envp);
}

#define HOOK_VARS 13

int
watch_hook_env(const struct watch_event *ev, const char *home, char *const *base,
    char ***envp)
{
	struct sb_buf path = SB_BUF_INIT, t1 = SB_BUF_INIT, t2 = SB_BUF_INIT;
	char dev[17], id[2 * WATCH_MSGID_LEN + 1], size[24];
	size_t nb = 0, n = 0, i;
	char **env;
	int rc;

	*envp = NULL;
	while (base != NULL && base[nb] != NULL)
		nb++;
	if ((env = calloc(nb + HOOK_VARS + 1, sizeof(*env))) == NULL)
		return SB_ERR_ALLOC;
	rc = SB_OK;
	for (i = 0; i < nb && rc == SB_OK; i++) {
		/* Ours are set below; an inherited one (the mount's own
		 * SEALBOX_HOME, say) must not pass for this arrival's. */
		if (strncmp(base[i], "SEALBOX_", 8) == 0)
			continue;
		if ((env[n] = strdup(base[i])) == NULL)
			rc = SB_ERR_ALLOC;
		else
			n++;
	}
	snprintf(dev, sizeof(dev), "%016" PRIx64, ev->device);
	sb_hex(ev->msgid, WATCH_MSGID_LEN, id);
	snprintf(size, sizeof(size), "%" PRIu64, ev->size);
	watch_event_path(ev, &path);
	put_time(&t1, ev->sent, -1);
	put_time(&t2, (uint64_t)ev->arrived.tv_sec, ev->arrived.tv_nsec);
	sb_put_u8(&t1, '\0');
	sb_put_u8(&t2, '\0');
	if (rc == SB_OK && (path.err || t1.err || t2.err))
		rc = SB_ERR_ALLOC;
	if (rc == SB_OK) {
		const char *vars[HOOK_VARS][2] = {
			{ "SEALBOX_EVENT", "receive" },
			{ "SEALBOX_PATH", (const char *)path.d },
			{ "SEALBOX_MOUNT", ev->mount },
			{ "SEALBOX_HOME", home },
			{ "SEALBOX_FOLDER", ev->folder },
			{ "SEALBOX_NAME", ev->name },
			{ "SEALBOX_SENDER", ev->sender },
			{ "SEALBOX_DEVICE", dev },
			{ "SEALBOX_ID", id },
			{ "SEALBOX_SIZE", size },
			{ "SEALBOX_SENT", (const char *)t1.d },
			{ "SEALBOX_ARRIVED", (const char *)t2.d },
			{ "SEALBOX_VERIFIED", "yes" },
		};
		for (i = 0; i < HOOK_VARS && rc == SB_OK; i++)
			rc = env_add(env, &n, vars[i][0], vars[i][1]);
	}
	sb_buf_free(&path);
	sb_buf_free(&t1);
	sb_buf_free(&t2);
	if (rc != SB_OK) {
		watch_env_free(env);
		return rc;
	}
	*envp = env;
	return SB_OK;
}
