/*
 * replay.c - main() for the regression build of a fuzz harness: feeds every
 * file named on the command line (or found directly inside a directory named
 * there, in name order) to LLVMFuzzerTestOneInput once, the way libFuzzer
 * replays a corpus.  A memory error, a sanitizer report or a broken harness
 * property aborts the process, so any non-zero exit is a failed replay.
 *
 * Each input sits in a heap block of exactly its size, so ASan (SANITIZE=1)
 * catches a read one byte past the end.  Dot-files (.gitkeep) are skipped.
 * Never writes anything but its summary line to stdout.
 *
 * Usage: replay_<target> DIR|FILE...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int
run_file(const char *path)
{
	uint8_t *buf;
	FILE *f;
	struct stat st;
	size_t n;

	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	n = (size_t)st.st_size;
	/* malloc(0) may return NULL; one byte keeps "no input" distinct. */
	if ((buf = malloc(n > 0 ? n : 1)) == NULL || fread(buf, 1, n, f) != n) {
		fprintf(stderr, "replay: %s: short read\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	LLVMFuzzerTestOneInput(buf, n);
	free(buf);
	return 0;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs the regular files directly inside dir, sorted; returns how many, or
 * -1 when the directory cannot be read. */
static long
run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL, path[4096];
	size_t n = 0, cap = 0, i;
	long count = 0;
	struct stat st;

	if (d == NULL) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*names));

			if (nn == NULL)
				abort();
			names = nn;
		}
		if ((names[n++] = strdup(e->d_name)) == NULL)
			abort();
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_names);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(path) != 0)
				count = -1;
			else if (count >= 0)
				count++;
		}
		free(names[i]);
	}
	free(names);
	return count;
}

int
main(int argc, char **argv)
{
	long total = 0, got;
	struct stat st;
	int i, bad = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s DIR|FILE...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			bad = 1;
			continue;
		}
		got = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : run_file(argv[i]) == 0 ? 1 : -1;
		if (got < 0)
			bad = 1;
		else
			total += got;
	}
	printf("%s: replayed %ld inputs\n", argv[0], total);
	return bad ? 1 : 0;
}
