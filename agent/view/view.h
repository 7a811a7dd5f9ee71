/*
 * view.h - the agent's namespace VIEWS, the part agent.c dispatches
 * agent.h calls to.  Above send/ and recv/: it may use both and the store;
 * nothing below includes this header (scripts/check-layers.sh).
 *
 *   inbox_view.c    inbox/: received messages, from the store's records,
 *                   verified again on every open and read.  With box
 *                   AGENT_BOX_OUT the same functions show the copies our
 *                   other devices sent (synced into the store by recv/).
 *   outbox_view.c   outbox/: our own spool (send/) merged with those synced
 *                   copies; our own row wins a name both have.
 *
 * Same contracts as agent.h.
 */
#ifndef SB_AGENT_VIEW_H
#define SB_AGENT_VIEW_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "agent/internal.h"

/* ---- inbox_view.c: records of the store, box AGENT_BOX_IN or _OUT ------- */

int  inbox_list_folders(struct agent *a, enum agent_box box, agent_fill_fn fill, void *ctx);
int  inbox_folder_attr(struct agent *a, enum agent_box box, const char *folder,
         struct agent_attr *out);
/* dir: a folder of a received tree below FOLDER, NULL for FOLDER itself */
int  inbox_list_files(struct agent *a, enum agent_box box, const char *folder,
         const char *dir, agent_fill_fn fill, void *ctx);
int  inbox_dir_remove(struct agent *a, enum agent_box box, const char *folder,
         const char *path);
int  inbox_file_attr(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct agent_attr *out);
int  inbox_file_open(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct agent_file **out);
int  inbox_xattr_get(struct agent *a, enum agent_box box, const char *folder,
         const char *name, const char *attr, struct sb_buf *out);
int  inbox_xattr_list(struct agent *a, enum agent_box box, const char *folder,
         const char *name, struct sb_buf *out);
int  inbox_unlink(struct agent *a, enum agent_box box, const char *folder,
         const char *name);
/* agent_inbox_each (msgid NULL) and agent_inbox_find (msgid, device). */
int  inbox_each(struct agent *a, const char *folder, const uint8_t *msgid, uint64_t device,
         agent_msg_fn fn, void *ctx);
/* agent_file_message of an open file of kind AGENT_FILE_IN. */
int  inbox_file_message(struct agent_file *f, struct sb_buf *to, struct sb_buf *name);
/* An open file of kind AGENT_FILE_IN. */
int  inbox_file_read(struct agent_file *f, void *buf, size_t size, uint64_t off, size_t *got);
int  inbox_file_release(struct agent_file *f);

/* ---- outbox_view.c: outbox/ = our own spool + synced copies -------------- */

int  outview_list_folders(struct agent *a, agent_fill_fn fill, void *ctx);
int  outview_folder_attr(struct agent *a, const char *folder, struct agent_attr *out);
int  outview_folder_create(struct agent *a, const char *folder);
int  outview_folder_remove(struct agent *a, const char *folder);
int  outview_list_files(struct agent *a, const char *folder, const char *dir,
         agent_fill_fn fill, void *ctx);
int  outview_dir_create(struct agent *a, const char *folder, const char *path);
int  outview_dir_remove(struct agent *a, const char *folder, const char *path);
int  outview_file_attr(struct agent *a, const char *folder, const char *name,
         struct agent_attr *out);
/* Opens our own file, or a synced copy (read-only: SB_ERR_PERMISSION for
 * writing); files opened are read, written and released through send/'s
 * outbox_file_* or this header's inbox_file_*, by their kind. */
int  outview_file_open(struct agent *a, const char *folder, const char *name,
         int flags, struct agent_file **out);
int  outview_truncate(struct agent *a, const char *folder, const char *name, uint64_t size);
int  outview_set_times(struct agent *a, const char *folder, const char *name,
         const struct timespec *atime, const struct timespec *mtime);
int  outview_unlink(struct agent *a, const char *folder, const char *name);
int  outview_rename(struct agent *a, const char *from_folder, const char *from_name,
         const char *to_folder, const char *to_name);
int  outview_xattr_get(struct agent *a, const char *folder, const char *name,
         const char *attr, struct sb_buf *out);
int  outview_xattr_list(struct agent *a, const char *folder, const char *name,
         struct sb_buf *out);

#endif
