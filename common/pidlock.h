/*
 * pidlock.h - "one process at a time" lock files: an exclusive flock(2)
 * held for the life of the holder, with a note (its pid, and what the
 * caller adds) written into the file for whoever finds it taken.  The
 * lock goes with the process however it ends: no stale lock after a
 * crash.  Used by the mount (HOME/mount.lock) and the relay's serve
 * (DIR/serve.lock).
 */
#ifndef SB_PIDLOCK_H
#define SB_PIDLOCK_H

/*
 * Opens (creating, mode 0600, never through a symlink) and locks path.
 * SB_OK: *fd holds the lock (CLOEXEC; keep it open as long as the lock
 * must hold), the file now says "PID\n" then note.  SB_ERR_EXISTS:
 * another process holds it; *fd is an open descriptor of the file to read
 * the holder's note from (pread; the caller closes it).  SB_ERR_SYSTEM
 * (errno kept), *fd = -1.  Never blocks.
 */
int sb_lock_take(const char *path, const char *note, int *fd);
/*
 * SB_OK when some process holds path's lock: *fd is open to read its
 * note (the caller closes it).  SB_ERR_NOT_FOUND when the file is missing
 * or nobody holds it; SB_ERR_SYSTEM (errno kept).  Takes nothing.
 */
int sb_lock_held(const char *path, int *fd);

#endif
