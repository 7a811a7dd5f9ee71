/*
 * durable.h - the one helper every durable write path shares.
 */
#ifndef SB_DURABLE_H
#define SB_DURABLE_H

/*
 * fsyncs the directory `path`, so a rename or create inside it survives a
 * crash (rename(2) alone is atomic but not durable).  SB_OK, or
 * SB_ERR_SYSTEM with errno from the failing open/fsync preserved.
 */
int sb_fsync_dir(const char *path);

#endif
