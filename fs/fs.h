/*
 * fs.h - the sealbox FUSE filesystem: a thin translation layer from libfuse3's
 * high-level, path-based operations to agent/agent.h (DESIGN.md section 3).
 *
 * fs/ splits paths into (box, folder, name), calls one agent_* function per
 * operation and turns its SB_ERR_* into an errno through fs_errno(); it
 * does no cryptography, no networking and no storage of its own.
 *
 * Why the high-level API: the namespace is two levels of folders addressed by
 * name (outbox/FOLDER/NAME), every agent call takes names, and libfuse's
 * path layer already does the inode bookkeeping the low-level API would make
 * us duplicate.  The cost (a path lookup per op) is noise beside the
 * per-read verification the agent does.
 */
#ifndef SB_FS_H
#define SB_FS_H

struct agent;
struct fuse_args;
struct fs;

/*
 * Creates the filesystem over agent `a` (borrowed; must outlive the fs) and
 * mounts it at `mountpoint`.  `args` carries the FUSE -o options (consumed).
 * Installs SIGINT/SIGTERM/SIGHUP handlers that unmount cleanly.
 * Returns SB_OK or a negative SB_ERR_*.
 */
int  fs_new(struct agent *a, struct fuse_args *args, const char *mountpoint,
         struct fs **out);
/* Serves requests until the filesystem is unmounted (fusermount3 -u) or a
 * signal arrives.  Returns SB_OK, or SB_ERR_SYSTEM if the loop failed. */
int  fs_run(struct fs *fs, int single_thread);
/* Unmounts (if still mounted) and frees.  NULL accepted. */
void fs_free(struct fs *fs);

/* The one SB_ERR_* -> errno table (positive errno). */
int  fs_errno(int err);

#endif
