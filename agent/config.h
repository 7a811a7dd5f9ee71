/*
 * config.h - the home directory and its config file (nothing secret in it).
 *
 * HOME/config is text, one "key = value" per line; blank lines and lines
 * starting with '#' are ignored; unknown keys are an error (a typo must not
 * silently change behaviour).  Keys:
 *     address       canonical address of this device's account
 *     device_id     u64, decimal, non-zero
 *     device_name   1..SB_MAX_DEVICE_NAME bytes
 *     relay         host:port, or host:port,host:port,... (a cluster's nodes)
 *     fingerprint   the relay certificate's SHA-256, 64 hex digits
 *     suite         pair | ec
 *     inline_limit  optional, decimal, default CONFIG_INLINE_LIMIT_DEFAULT
 *     next_fingerprint  optional: the relay's announced next certificate
 *                   (PROTOCOL.md 13.10), accepted as well as fingerprint
 *     log_key       optional: the relay's transparency-log key LK pinned
 *                   at init (PROTOCOL.md 14.1), 130 hex digits (65 bytes);
 *                   absent in a home made before the log (the mount then
 *                   pins the key the relay gives on first use)
 * The home resolves as: --home, else $SEALBOX_HOME, else
 * $XDG_DATA_HOME/sealbox, else $HOME/.local/share/sealbox.
 *
 * Never holds or writes key material.  The file is written atomically
 * (temp file, fsync, rename, fsync of the directory) with mode 0600.
 */
#ifndef SB_AGENT_CONFIG_H
#define SB_AGENT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../crypto/crypto.h"
#include "names.h"

#define CONFIG_FILE                 "config"
#define CONFIG_MAX_FILE             16384
#define CONFIG_MAX_DEVICE_NAME      64     /* proto.h SB_MAX_DEVICE_NAME */
/* relay: 1..CONFIG_MAX_RELAYS "host:port" (host 253, ':', port 5, plus
 * slack), comma-separated: the nodes of a relay cluster, tried in turn. */
#define CONFIG_MAX_RELAYS           8      /* = client.h CLIENT_MAX_RELAYS */
#define CONFIG_MAX_RELAY            (CONFIG_MAX_RELAYS * 262 - 1)
#define CONFIG_FP_LEN               32
#define CONFIG_LOG_KEY_LEN          65     /* tlog.h TLOG_KEY_LEN */
#define CONFIG_INLINE_LIMIT_DEFAULT 4096u
#define CONFIG_INLINE_LIMIT_MAX     65536u /* proto.h SB_MAX_PAYLOAD */

struct agent_config {
	char address[NAMES_ADDR_BUF];
	uint64_t device_id;
	char device_name[CONFIG_MAX_DEVICE_NAME + 1];
	char relay[CONFIG_MAX_RELAY + 1];
	uint8_t fingerprint[CONFIG_FP_LEN];
	enum crypto_suite suite;
	uint32_t inline_limit;
	uint8_t next_fingerprint[CONFIG_FP_LEN];
	int has_next;                 /* next_fingerprint is set */
	uint8_t log_key[CONFIG_LOG_KEY_LEN];
	int has_log_key;              /* log_key is set */
};

/*
 * Resolves the home directory into a malloc'd string (*out; caller frees):
 * arg (--home) if non-NULL, else the environment as above.  SB_ERR_CONFIG
 * if none of them is set (no $HOME either), SB_ERR_ALLOC.
 */
int  config_home(const char *arg, char **out);

/* Creates home (and its parents) if missing; the home itself mode 0700.
 * SB_ERR_SYSTEM (errno) on failure, ENOTDIR if it is not a directory. */
int  config_mkdir_home(const char *home);

/*
 * Reads HOME/config into *cfg.  SB_ERR_CONFIG when the file is missing
 * (errno ENOENT; "run sealbox init"), malformed, or lacks a key; then, if
 * err/err_size are given, err holds one line naming the line number and
 * what is wrong.  SB_ERR_SYSTEM for other read failures.
 */
int  config_load(const char *home, struct agent_config *cfg, char *err, size_t err_size);

/* Parses config text (exposed for tests and fuzzing); same errors. */
int  config_parse(const uint8_t *text, size_t len, struct agent_config *cfg,
         char *err, size_t err_size);

/* Renders cfg as config text into out (validates it first:
 * SB_ERR_INVALID_ARG naming nothing; call config_check for a message). */
int  config_format(const struct agent_config *cfg, struct sb_buf *out);

/* Checks cfg's fields as config_parse would; SB_ERR_CONFIG + err. */
int  config_check(const struct agent_config *cfg, char *err, size_t err_size);

/*
 * Writes HOME/config atomically (HOME/.config.tmp, fsync, rename, fsync of
 * HOME), mode 0600.  excl: fail with SB_ERR_EXISTS if a config exists.
 */
int  config_save(const char *home, const struct agent_config *cfg, int excl);

/* 1 if HOME/config exists (any content), else 0. */
int  config_exists(const char *home);

/*
 * The home's mount lock (HOME/mount.lock, mode 0600): one agent per home,
 * or two would fight over the relay connection and the store.  take: an
 * exclusive flock held on *fd (CLOEXEC) for as long as the caller lives;
 * the file says "PID\nMOUNTPOINT\n" for the next one.  SB_ERR_EXISTS when
 * another process holds it, with its pid and mountpoint in *pid and
 * mnt (mnt_size bytes, NUL-terminated; "" if unknown).
 * mounted: SB_OK with pid/mnt if the home is mounted now, SB_ERR_NOT_FOUND
 * if not.  Neither ever blocks.
 */
int  config_lock_take(const char *home, const char *mountpoint, int *fd,
         long *pid, char *mnt, size_t mnt_size);
int  config_lock_holder(const char *home, long *pid, char *mnt, size_t mnt_size);

/* "pair" / "ec"; NULL for other values.  config_suite_parse: SB_OK or
 * SB_ERR_INVALID_ARG. */
const char *config_suite_name(enum crypto_suite s);
int  config_suite_parse(const char *s, enum crypto_suite *out);

#endif
