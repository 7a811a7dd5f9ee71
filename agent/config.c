/*
 * config.c - the home directory and its config file (config.h).
 *
 * Never reads or writes key material: the config holds only what may be
 * public (address, device id and name, relay, its pinned fingerprint, the
 * suite, the inline limit).  Parsing goes through sb_reader; every error
 * names its line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/pidlock.h"
#include "../common/sberr.h"
#include "../common/wire.h"
#include "../client/client.h"
#include "config.h"

_Static_assert(CONFIG_MAX_RELAYS == CLIENT_MAX_RELAYS, "one cap on relay addresses");

#define INLINE_LIMIT_MIN 256u

enum { K_ADDRESS, K_DEVICE_ID, K_DEVICE_NAME, K_RELAY, K_FINGERPRINT, K_SUITE,
       K_INLINE_LIMIT, K_NEXT_FINGERPRINT, K_LOG_KEY, K_COUNT };
static const char *const key_names[K_COUNT] = {
	"address", "device_id", "device_name", "relay", "fingerprint", "suite",
	"inline_limit", "next_fingerprint", "log_key",
};
static const int key_required[K_COUNT] = { 1, 1, 1, 1, 1, 1, 0, 0, 0 };

static int
fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && err_size > 0) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return SB_ERR_CONFIG;
}

/* ---- Home ------------------------------------------------------------------ */

static char *
join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *s = malloc(la + 1 + lb + 1);

	if (s == NULL)
		return NULL;
	memcpy(s, a, la);
	s[la] = '/';
	memcpy(s + la + 1, b, lb + 1);
	return s;
}

int
config_home(const char *arg, char **out)
{
	const char *env;

	if (out == NULL)
		return SB_ERR_INVALID_ARG;
	*out = NULL;
	if (arg != NULL && *arg != '\0')
		*out = strdup(arg);
	else if ((env = getenv("SEALBOX_HOME")) != NULL && *env != '\0')
		*out = strdup(env);
	else if ((env = getenv("XDG_DATA_HOME")) != NULL && *env == '/')
		*out = join(env, "sealbox");   /* XDG: relative values are ignored */
	else if ((env = getenv("HOME")) != NULL && *env != '\0')
		*out = join(env, ".local/share/sealbox");
	else
		return SB_ERR_CONFIG;
	return *out == NULL ? SB_ERR_ALLOC : SB_OK;
}

int
config_mkdir_home(const char *home)
{
	char *p, *s;
	struct stat st;

	if (home == NULL || *home == '\0')
		return SB_ERR_INVALID_ARG;
	if ((p = strdup(home)) == NULL)
		return SB_ERR_ALLOC;
	/* mkdir -p: parents as the umask says, the home itself 0700. */
	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) != 0 && errno != EEXIST) {
			int saved = errno;

			free(p);
			errno = saved;
			return SB_ERR_SYSTEM;
		}
		*s = '/';
	}
	free(p);
	if (mkdir(home, 0700) != 0 && errno != EEXIST)
		return SB_ERR_SYSTEM;
	if (stat(home, &st) != 0)
		return SB_ERR_SYSTEM;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return SB_ERR_SYSTEM;
	}
	return SB_OK;
}

/* ---- Values ------------------------------------------------------------------ */

const char *
config_suite_name(enum crypto_suite s)
{
	switch (s) {
	case CRYPTO_SUITE_PAIR: return "pair";
	case CRYPTO_SUITE_EC:   return "ec";
	}
	return NULL;
}

int
config_suite_parse(const char *s, enum crypto_suite *out)
{
	if (s != NULL && strcmp(s, "pair") == 0)
		*out = CRYPTO_SUITE_PAIR;
	else if (s != NULL && strcmp(s, "ec") == 0)
		*out = CRYPTO_SUITE_EC;
	else
		return SB_ERR_INVALID_ARG;
	return SB_OK;
}

/* Decimal u64 without sign, leading zeros or overflow. */
static int
parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (*s == '\0' || (s[0] == '0' && s[1] != '\0'))
		return SB_ERR_INVALID_ARG;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || x > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return SB_ERR_INVALID_ARG;
		x = x * 10 + (uint64_t)(*s - '0');
	}
	*v = x;
	return SB_OK;
}

/* Exactly n bytes of hex (':' between digits allowed). */
static int
parse_hex(const char *s, uint8_t *out, size_t n)
{
	size_t o = 0;
	int hi = -1;

	for (; *s != '\0'; s++) {
		int v;

		if (*s == ':')
			continue;
		if (*s >= '0' && *s <= '9') v = *s - '0';
		else if (*s >= 'a' && *s <= 'f') v = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F') v = *s - 'A' + 10;
		else return SB_ERR_INVALID_ARG;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (o == n)
			return SB_ERR_INVALID_ARG;
		out[o++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return o == n && hi < 0 ? SB_OK : SB_ERR_INVALID_ARG;
}

static int
parse_fingerprint(const char *s, uint8_t fp[CONFIG_FP_LEN])
{
	return parse_hex(s, fp, CONFIG_FP_LEN);
}

/* host:port with a non-empty host (at most 253 bytes) and a port in
 * 1..65535, or 2..CONFIG_MAX_RELAYS of them separated by commas. */
static int
check_relay(const char *s)
{
	char one[262];
	const char *end, *colon;
	uint64_t port;
	size_t n, k;

	if (strlen(s) > CONFIG_MAX_RELAY)
		return SB_ERR_INVALID_ARG;
	for (k = 0; k < CONFIG_MAX_RELAYS; k++, s = end + 1) {
		end = strchr(s, ',');
		n = end != NULL ? (size_t)(end - s) : strlen(s);
		if (n >= sizeof(one))
			return SB_ERR_INVALID_ARG;
		memcpy(one, s, n);
		one[n] = '\0';
		colon = strrchr(one, ':');
		if (colon == NULL || colon == one || colon - one > 253 ||
		    parse_u64(colon + 1, &port) != SB_OK || port == 0 || port > 65535)
			return SB_ERR_INVALID_ARG;
		if (end == NULL)
			return SB_OK;
	}
	return SB_ERR_INVALID_ARG;   /* more than CONFIG_MAX_RELAYS */
}

static int
check_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return SB_ERR_INVALID_ARG;
	return SB_OK;
}

int
config_check(const struct agent_config *cfg, char *err, size_t err_size)
{
	size_t n;

	if (cfg == NULL)
		return SB_ERR_INVALID_ARG;
	n = strnlen(cfg->address, sizeof(cfg->address));
	if (n == 0 || n >= sizeof(cfg->address) ||
	    names_kind(cfg->address, n) == NAMES_NOT_ADDRESS)
		return fail(err, err_size, "address is not a canonical address");
	if (cfg->device_id == 0)
		return fail(err, err_size, "device_id must be a non-zero number");
	n = strnlen(cfg->device_name, sizeof(cfg->device_name));
	if (n == 0 || n >= sizeof(cfg->device_name) || check_text(cfg->device_name) != SB_OK)
		return fail(err, err_size, "device_name must be 1..%d printable bytes",
		    CONFIG_MAX_DEVICE_NAME);
	if (strnlen(cfg->relay, sizeof(cfg->relay)) >= sizeof(cfg->relay) ||
	    check_relay(cfg->relay) != SB_OK)
		return fail(err, err_size, "relay must be host:port[,host:port...] (at most %d)",
		    CONFIG_MAX_RELAYS);
	if (config_suite_name(cfg->suite) == NULL)
		return fail(err, err_size, "suite must be pair or ec");
	if (cfg->inline_limit < INLINE_LIMIT_MIN || cfg->inline_limit > CONFIG_INLINE_LIMIT_MAX)
		return fail(err, err_size, "inline_limit must be %u..%u",
		    INLINE_LIMIT_MIN, CONFIG_INLINE_LIMIT_MAX);
	return SB_OK;
}

/* ---- Parse ------------------------------------------------------------------- */

static int
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Sets one key from its NUL-terminated value; a message into err. */
static int
set_key(struct agent_config *cfg, int k, const char *v, char *err, size_t err_size)
{
	switch (k) {
	case K_ADDRESS:
		if (strlen(v) >= sizeof(cfg->address) ||
		    names_kind(v, strlen(v)) == NAMES_NOT_ADDRESS)
			return fail(err, err_size, "not a canonical address");
		memcpy(cfg->address, v, strlen(v) + 1);   /* length checked above */
		return SB_OK;
	case K_DEVICE_ID:
		if (parse_u64(v, &cfg->device_id) != SB_OK || cfg->device_id == 0)
			return fail(err, err_size, "device_id must be a non-zero decimal number");
		return SB_OK;
	case K_DEVICE_NAME:
		if (*v == '\0' || strlen(v) >= sizeof(cfg->device_name))
			return fail(err, err_size, "device_name must be 1..%d bytes",
			    CONFIG_MAX_DEVICE_NAME);
		memcpy(cfg->device_name, v, strlen(v) + 1);   /* length checked above */
		return SB_OK;
	case K_RELAY:
		if (check_relay(v) != SB_OK)
			return fail(err, err_size, "relay must be host:port[,host:port...] (at most %d)",
		    CONFIG_MAX_RELAYS);
		memcpy(cfg->relay, v, strlen(v) + 1);   /* length checked above */
		return SB_OK;
	case K_FINGERPRINT:
		if (parse_fingerprint(v, cfg->fingerprint) != SB_OK)
			return fail(err, err_size, "fingerprint must be 64 hex digits (SHA-256)");
		return SB_OK;
	case K_NEXT_FINGERPRINT:
		if (parse_fingerprint(v, cfg->next_fingerprint) != SB_OK)
			return fail(err, err_size,
			    "next_fingerprint must be 64 hex digits (SHA-256)");
		cfg->has_next = 1;
		return SB_OK;
	case K_LOG_KEY:
		/* A P-256 point, uncompressed; whether it is on the curve is the
		 * log's check (every tree head must verify under it). */
		if (parse_hex(v, cfg->log_key, CONFIG_LOG_KEY_LEN) != SB_OK ||
		    cfg->log_key[0] != 0x04)
			return fail(err, err_size,
			    "log_key must be 130 hex digits (an uncompressed P-256 point)");
		cfg->has_log_key = 1;
		return SB_OK;
	case K_SUITE:
		if (config_suite_parse(v, &cfg->suite) != SB_OK)
			return fail(err, err_size, "suite must be pair or ec");
		return SB_OK;
	case K_INLINE_LIMIT: {
		uint64_t x;

		if (parse_u64(v, &x) != SB_OK || x < INLINE_LIMIT_MIN ||
		    x > CONFIG_INLINE_LIMIT_MAX)
			return fail(err, err_size, "inline_limit must be %u..%u",
			    INLINE_LIMIT_MIN, CONFIG_INLINE_LIMIT_MAX);
		cfg->inline_limit = (uint32_t)x;
		return SB_OK;
	}
	}
	return SB_ERR_INTERNAL;
}

/* One line (without its '\n'): blank, comment, or key = value. */
static int
parse_line(struct agent_config *cfg, const uint8_t *p, size_t n, unsigned lineno,
    int seen[K_COUNT], char *err, size_t err_size)
{
	char value[CONFIG_MAX_RELAY + 64], msg[160];
	const uint8_t *eq;
	size_t ks, ke, vs, ve, i;
	int k, rc;

	for (ks = 0; ks < n && is_space(p[ks]); ks++)
		;
	if (ks == n || p[ks] == '#')
		return SB_OK;
	for (i = 0; i < n; i++)
		if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r') || p[i] == 0x7f)
			return fail(err, err_size, "config line %u: control character", lineno);
	if ((eq = memchr(p, '=', n)) == NULL)
		return fail(err, err_size, "config line %u: expected key = value", lineno);
	for (ke = (size_t)(eq - p); ke > ks && is_space(p[ke - 1]); ke--)
		;
	for (vs = (size_t)(eq - p) + 1; vs < n && is_space(p[vs]); vs++)
		;
	for (ve = n; ve > vs && is_space(p[ve - 1]); ve--)
		;
	for (k = 0; k < K_COUNT; k++)
		if (strlen(key_names[k]) == ke - ks &&
		    memcmp(key_names[k], p + ks, ke - ks) == 0)
			break;
	if (k == K_COUNT)
		return fail(err, err_size, "config line %u: unknown key '%.*s'", lineno,
		    (int)(ke - ks > 40 ? 40 : ke - ks), (const char *)p + ks);
	if (seen[k])
		return fail(err, err_size, "config line %u: '%s' given twice", lineno,
		    key_names[k]);
	seen[k] = 1;
	if (ve - vs >= sizeof(value))
		return fail(err, err_size, "config line %u: value of '%s' too long", lineno,
		    key_names[k]);
	memcpy(value, p + vs, ve - vs);
	value[ve - vs] = '\0';
	/* Tabs and CRs are only allowed around a value, not inside it. */
	if (check_text(value) != SB_OK)
		return fail(err, err_size, "config line %u: control character in '%s'",
		    lineno, key_names[k]);
	if ((rc = set_key(cfg, k, value, msg, sizeof(msg))) != SB_OK)
		return fail(err, err_size, "config line %u: %s", lineno, msg);
	return SB_OK;
}

int
config_parse(const uint8_t *text, size_t len, struct agent_config *cfg,
    char *err, size_t err_size)
{
	struct sb_reader r;
	int seen[K_COUNT] = { 0 };
	unsigned lineno = 0;
	int k, rc;

	if (err != NULL && err_size > 0)
		err[0] = '\0';
	if (cfg == NULL || (text == NULL && len > 0))
		return SB_ERR_INVALID_ARG;
	memset(cfg, 0, sizeof(*cfg));
	cfg->inline_limit = CONFIG_INLINE_LIMIT_DEFAULT;
	if (len > CONFIG_MAX_FILE)
		return fail(err, err_size, "config is larger than %d bytes", CONFIG_MAX_FILE);
	sb_reader_init(&r, text, len);
	while (sb_reader_remaining(&r) > 0) {
		struct sb_reader peek = r;
		const uint8_t *rest, *line, *nl;
		size_t n, ln;
		uint8_t c;

		lineno++;
		if ((rc = sb_get_rest_direct(&peek, &rest, &n)) != SB_OK)
			return rc;
		nl = memchr(rest, '\n', n);
		ln = nl != NULL ? (size_t)(nl - rest) : n;
		if ((rc = sb_get_bytes_direct(&r, &line, ln)) != SB_OK)
			return rc;
		if (nl != NULL && (rc = sb_get_u8(&r, &c)) != SB_OK)
			return rc;
		if ((rc = parse_line(cfg, line, ln, lineno, seen, err, err_size)) != SB_OK) {
			memset(cfg, 0, sizeof(*cfg));
			return rc;
		}
	}
	for (k = 0; k < K_COUNT; k++) {
		if (key_required[k] && !seen[k]) {
			memset(cfg, 0, sizeof(*cfg));
			return fail(err, err_size, "config: missing '%s'", key_names[k]);
		}
	}
	return SB_OK;
}

int
config_load(const char *home, struct agent_config *cfg, char *err, size_t err_size)
{
	uint8_t buf[CONFIG_MAX_FILE + 1];
	size_t len = 0;
	char *path;
	int fd, rc;

	if (err != NULL && err_size > 0)
		err[0] = '\0';
	if (home == NULL || cfg == NULL)
		return SB_ERR_INVALID_ARG;
	memset(cfg, 0, sizeof(*cfg));
	if ((path = join(home, CONFIG_FILE)) == NULL)
		return SB_ERR_ALLOC;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int saved = errno;

		rc = saved == ENOENT ?
		    fail(err, err_size, "%s: not initialised (run 'sealbox init')", home) :
		    SB_ERR_SYSTEM;
		if (rc == SB_ERR_SYSTEM)
			fail(err, err_size, "%s: %s", path, strerror(saved));
		free(path);
		errno = saved;
		return rc;
	}
	free(path);
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return SB_ERR_SYSTEM;
		}
		if (r == 0)
			break;
		len += (size_t)r;
		if (len == sizeof(buf))
			break;
	}
	close(fd);
	return config_parse(buf, len, cfg, err, err_size);
}

/* ---- Write ------------------------------------------------------------------- */

int
config_format(const struct agent_config *cfg, struct sb_buf *out)
{
	char line[CONFIG_MAX_RELAY + 512];
	size_t i;
	int n, rc;

	if (cfg == NULL || out == NULL || config_check(cfg, NULL, 0) != SB_OK)
		return SB_ERR_INVALID_ARG;
	n = snprintf(line, sizeof(line),
	    "# sealbox device configuration (nothing secret: keys are in the keyring)\n"
	    "address = %s\ndevice_id = %llu\ndevice_name = %s\nrelay = %s\nfingerprint = ",
	    cfg->address, (unsigned long long)cfg->device_id, cfg->device_name, cfg->relay);
	if (n < 0 || (size_t)n >= sizeof(line))
		return SB_ERR_INTERNAL;
	sb_put_bytes(out, line, (size_t)n);
	for (i = 0; i < CONFIG_FP_LEN; i++) {
		snprintf(line, sizeof(line), "%02x", cfg->fingerprint[i]);
		sb_put_bytes(out, line, 2);
	}
	n = snprintf(line, sizeof(line), "\nsuite = %s\ninline_limit = %u\n",
	    config_suite_name(cfg->suite), cfg->inline_limit);
	rc = sb_put_bytes(out, line, (size_t)n);
	if (rc == SB_OK && cfg->has_next) {
		/* The relay's announced next certificate (PROTOCOL.md 13.10). */
		sb_put_bytes(out, "next_fingerprint = ", 19);
		for (i = 0; i < CONFIG_FP_LEN; i++) {
			snprintf(line, sizeof(line), "%02x", cfg->next_fingerprint[i]);
			sb_put_bytes(out, line, 2);
		}
		rc = sb_put_bytes(out, "\n", 1);
	}
	if (rc == SB_OK && cfg->has_log_key) {
		/* The transparency log's key (PROTOCOL.md 14.1). */
		sb_put_bytes(out, "log_key = ", 10);
		sb_put_hex(out, cfg->log_key, CONFIG_LOG_KEY_LEN);
		rc = sb_put_bytes(out, "\n", 1);
	}
	return rc;
}

int
config_exists(const char *home)
{
	char *path;
	struct stat st;
	int r;

	if (home == NULL || (path = join(home, CONFIG_FILE)) == NULL)
		return 0;
	r = lstat(path, &st) == 0;
	free(path);
	return r;
}

static int
write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return SB_ERR_SYSTEM;
		p += w;
		n -= (size_t)w;
	}
	return SB_OK;
}

int
config_save(const char *home, const struct agent_config *cfg, int excl)
{
	struct sb_buf text = SB_BUF_INIT;
	char *path = NULL, *tmp = NULL;
	int fd = -1, dfd, rc, saved = 0;

	if (home == NULL || cfg == NULL)
		return SB_ERR_INVALID_ARG;
	if ((rc = config_format(cfg, &text)) != SB_OK)
		return rc;
	if ((path = join(home, CONFIG_FILE)) == NULL ||
	    (tmp = join(home, ".config.tmp")) == NULL) {
		rc = SB_ERR_ALLOC;
		goto out;
	}
	unlink(tmp);   /* a leftover from a crash */
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0 ||
	    write_all(fd, text.d, text.len) != SB_OK || fsync(fd) != 0) {
		rc = SB_ERR_SYSTEM;
		goto out_unlink;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = SB_ERR_SYSTEM;
		goto out_unlink;
	}
	fd = -1;
	if (excl) {
		/* link() never replaces: an existing config stays untouched. */
		if (link(tmp, path) != 0) {
			rc = errno == EEXIST ? SB_ERR_EXISTS : SB_ERR_SYSTEM;
			goto out_unlink;
		}
		unlink(tmp);
	} else if (rename(tmp, path) != 0) {
		rc = SB_ERR_SYSTEM;
		goto out_unlink;
	}
	if ((dfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		if (fsync(dfd) != 0)
			rc = SB_ERR_SYSTEM;
		saved = errno;
		close(dfd);
	}
	if (rc == SB_OK)
		goto out;
	errno = saved;
	goto out;
out_unlink:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
out:
	free(path);
	free(tmp);
	sb_buf_free(&text);
	return rc;
}

/* ---- The mount lock ------------------------------------------------------ */

static int
lock_path(const char *home, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/mount.lock", home);

	return n < 0 || (size_t)n >= size ? SB_ERR_LENGTH : SB_OK;
}

/* The holder's note: "PID\nMOUNTPOINT\n" (written by the holder only). */
static void
lock_read(int fd, long *pid, char *mnt, size_t mnt_size)
{
	char buf[4200];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *nl;

	*pid = 0;
	if (mnt_size > 0)
		mnt[0] = '\0';
	if (n <= 0)
		return;
	buf[n] = '\0';
	*pid = strtol(buf, &nl, 10);
	if (*nl == '\n' && mnt_size > 0) {
		snprintf(mnt, mnt_size, "%s", nl + 1);
		mnt[strcspn(mnt, "\n")] = '\0';
	}
}

int
config_lock_take(const char *home, const char *mountpoint, int *fd, long *pid,
    char *mnt, size_t mnt_size)
{
	char path[4096], note[4200];
	int n, rc = lock_path(home, path, sizeof(path));

	*fd = -1;
	if (rc != SB_OK)
		return rc;
	n = snprintf(note, sizeof(note), "%s\n", mountpoint);
	if (n < 0 || (size_t)n >= sizeof(note))
		return SB_ERR_LENGTH;
	rc = sb_lock_take(path, note, fd);
	if (rc == SB_ERR_EXISTS) {
		lock_read(*fd, pid, mnt, mnt_size);
		close(*fd);
		*fd = -1;
		errno = EWOULDBLOCK;
	}
	return rc;
}

int
config_lock_holder(const char *home, long *pid, char *mnt, size_t mnt_size)
{
	char path[4096];
	int fd, rc = lock_path(home, path, sizeof(path));

	*pid = 0;
	if (rc != SB_OK)
		return rc;
	if ((rc = sb_lock_held(path, &fd)) == SB_OK) {
		lock_read(fd, pid, mnt, mnt_size);
		close(fd);
	}
	return rc;
}
