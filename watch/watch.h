/*
 * watch.h - telling programs that mail arrived (issue 13, point 6;
 * docs/ARCHITECTURE.md "Watching for arrivals").
 *
 * The kernel raises no inotify event for what a FUSE daemon adds (fs/
 * announces arrivals through the VFS for that; see fs/announce.c), and a
 * script wants more than a file name anyway.  This module gives two ways:
 *
 *   the watch socket   HOME/watch.sock, a unix stream socket the mount
 *                      process listens on (mode 0600, peers of another uid
 *                      refused by SO_PEERCRED).  A client (`sealbox watch`)
 *                      sends one request line, "text\n" or "json\n", and
 *                      then reads one line per arrival in that format
 *                      (watch_format_*), "!end\n" when the mount stops, or
 *                      "!lost\n" if it fell more than WATCH_CLIENT_BUF
 *                      behind (then the server closes it: a watcher is
 *                      never waited for).
 *   the hook           HOME/hooks/on-receive, run once per arrival in the
 *                      background (one at a time, in order), with the
 *                      message's path as its argument and its details in
 *                      the environment (watch_hook_env); killed after the
 *                      timeout; its output and its fate go to the log.
 *
 * Both hang off the agent's arrival callback (agent_subscribe), which only
 * queues: neither ever delays delivery.  Only arrivals in inbox/ are told
 * (our other devices' sent copies are not mail that arrived).
 */
#ifndef SB_WATCH_H
#define SB_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "common/wire.h"

struct agent;

#define WATCH_MSGID_LEN   16
/* What a slow watcher may have pending before it is dropped ("!lost"). */
#define WATCH_CLIENT_BUF  (256u * 1024)
/* Watchers connected at once; more are refused (closed at once). */
#define WATCH_CLIENTS_MAX 64
/* Arrivals waiting for the hook; more are logged and not run. */
#define WATCH_HOOK_QUEUE  1024
/* The hook's default time limit, and the longest one accepted. */
#define WATCH_HOOK_TIMEOUT_S     60
#define WATCH_HOOK_TIMEOUT_MAX_S 86400
/* Hook output logged per run; the rest is read and dropped. */
#define WATCH_HOOK_OUTPUT_MAX    (64u * 1024)
/* A request line from a client, at most (then the client is closed). */
#define WATCH_REQUEST_MAX 64

/* One arrival; strings NUL-terminated and borrowed. */
struct watch_event {
	const char *mount;              /* the mountpoint, absolute */
	const char *folder;             /* inbox/FOLDER */
	const char *name;               /* the file's name in it */
	const char *sender;             /* the sender's address */
	uint64_t device;                /* the sending device */
	const uint8_t *msgid;           /* WATCH_MSGID_LEN */
	uint64_t size;                  /* plaintext bytes */
	uint64_t sent;                  /* the sender's time, s since the epoch */
	struct timespec arrived;        /* when it was stored here */
};

/* ---- event.c: pure formats (unit-tested) --------------------------------- */

/*
 * One text line: "PATH\tSENDER\tSIZE\tverified\n", PATH the absolute path
 * of the new file.  Control characters (none in the agent's names; a
 * mountpoint could have some) are shown as '?', so a line is one line.
 * Appends to out; SB_OK or out's error.
 */
int  watch_format_text(const struct watch_event *ev, struct sb_buf *out);
/*
 * One JSON object and "\n": path, folder, name, sender, device (16 hex
 * digits), id (32 hex digits), size, sent and arrived (RFC 3339 UTC, the
 * arrival to the nanosecond) and "verified": true.  Strings escaped per
 * RFC 8259 (bytes that are not UTF-8 become U+FFFD).
 */
int  watch_format_json(const struct watch_event *ev, struct sb_buf *out);

/*
 * The hook's environment: base (the mount's environ, NULL-terminated)
 * without any SEALBOX_* variable, then SEALBOX_EVENT=receive,
 * SEALBOX_PATH, SEALBOX_MOUNT, SEALBOX_HOME, SEALBOX_FOLDER, SEALBOX_NAME,
 * SEALBOX_SENDER, SEALBOX_DEVICE, SEALBOX_ID, SEALBOX_SIZE, SEALBOX_SENT,
 * SEALBOX_ARRIVED (as in the JSON) and SEALBOX_VERIFIED=yes.  *envp is a
 * NULL-terminated array of malloc'd strings: free with watch_env_free.
 */
int  watch_hook_env(const struct watch_event *ev, const char *home, char *const *base,
         char ***envp);
void watch_env_free(char **envp);

/* The absolute path of the event's file into out (NUL-terminated). */
int  watch_event_path(const struct watch_event *ev, struct sb_buf *out);

/* ---- server.c / hook.c: the mount's side ------------------------------------ */

struct watch;

/*
 * Starts the watch socket and the hook runner for the mount of home at
 * mount (absolute), subscribed to a's arrivals.  hook_timeout_s is the
 * hook's limit (1..WATCH_HOOK_TIMEOUT_MAX_S).  A stale HOME/watch.sock (a
 * socket no process listens on: the home's mount.lock makes us its only
 * mount) is replaced.  SB_OK, SB_ERR_ALLOC, SB_ERR_LENGTH (the socket's
 * path is too long for sun_path) or SB_ERR_SYSTEM.
 */
int  watch_start(struct agent *a, const char *home, const char *mount,
         unsigned hook_timeout_s, struct watch **out);
/* Unsubscribes, tells each watcher "!end", removes the socket, waits for a
 * running hook (up to its timeout) and frees.  NULL accepted. */
void watch_stop(struct watch *w);

/* HOME/watch.sock into out; SB_ERR_LENGTH past sun_path. */
int  watch_socket_path(const char *home, char *out, size_t out_size);

#endif
