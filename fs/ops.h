/* ops.h - the fuse_operations table (fs/ internal). */
#ifndef SB_FS_OPS_H
#define SB_FS_OPS_H

#include <fuse.h>

extern const struct fuse_operations fs_ops;

#endif
