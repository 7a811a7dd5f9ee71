/*
 * mountinfo.c - what the kernel says is mounted where: the one reader of
 * /proc/self/mountinfo, for `mount` (refuse a sealbox mount as a
 * mountpoint) and `umount` (refuse what is no sealbox mount).
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

/*
 * The fstype of the mount whose mount point is path, from
 * /proc/self/mountinfo ("id parent maj:min root MOUNTPOINT opts... - FSTYPE
 * source superopts", the mount point with octal escapes); "" if path is no
 * mount point.  The last matching line wins: it is the one on top.
 */
void
cli_mount_fstype(const char *path, char *fstype, size_t size)
{
	char line[8192], mnt[PATH_MAX], *p, *sep;
	FILE *f = fopen("/proc/self/mountinfo", "re");
	size_t i;
	int k;

	fstype[0] = '\0';
	if (f == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		for (p = line, k = 0; k < 4 && p != NULL; k++)
			if ((p = strchr(p, ' ')) != NULL)
				p++;
		if (p == NULL || (sep = strstr(p, " - ")) == NULL)
			continue;
		for (i = 0; *p != ' ' && i < sizeof(mnt) - 1; i++) {
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
			    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
				mnt[i] = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
				p += 4;
			} else {
				mnt[i] = *p++;
			}
		}
		mnt[i] = '\0';
		if (strcmp(mnt, path) == 0)
			snprintf(fstype, size, "%.*s", (int)strcspn(sep + 3, " \n"), sep + 3);
	}
	fclose(f);
}
