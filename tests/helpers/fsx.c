/*
 * fsx.c - TEST HELPER: a small fsx (xfstests' file system exerciser) of our
 * own, for tests/integration/outbox_fsx.sh.  Runs N seeded random
 * operations on one file - writes, truncates (down and up, holes) and
 * reads at random offsets, fstat - checking every read and size against an
 * in-memory model of the file, and closes and reopens it a few times (each
 * close of an outbox file sends a version).  At each close it writes the
 * model's bytes to PREFIX.<k> (k = 1, 2, ...), so the test can compare
 * what the receiver got with what the file held.
 *
 *   fsx SEED OPS FILE PREFIX CLOSES
 *
 * Offsets and lengths straddle the mailbox's 64 KiB content chunks and
 * cross the inline limit both ways; the file stays under MAXLEN.  Prints
 * one summary line; on the first mismatch prints the operation log tail
 * and exits 1.  Not installed, not for users.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXLEN   (1u << 20)            /* the file never grows past 1 MiB */
#define MAXOP    (96u * 1024)          /* one write or read at most */
#define LOGN     32                    /* operations kept for a failure report */

static uint8_t model[MAXLEN];
static size_t model_len;
static uint64_t rng;
static char oplog[LOGN][96];
static unsigned long nop;

/* xorshift64*: reproducible from the seed alone, on any libc. */
static uint64_t
rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static size_t
rnd_below(size_t n)
{
	return n ? (size_t)(rnd() % n) : 0;
}

/* An offset that likes chunk boundaries (64 KiB) and the inline limit. */
static size_t
rnd_off(size_t max)
{
	static const size_t marks[] = { 0, 4096, 65536, 131072, 196608, 262144 };
	size_t o;

	if (rnd_below(4) == 0) {
		/* within 32 bytes either side of a mark */
		o = marks[rnd_below(sizeof(marks) / sizeof(marks[0]))] + rnd_below(65);
		o = o >= 32 ? o - 32 : 0;
	} else {
		o = rnd_below(max + 1);
	}
	return o > max ? max : o;
}

static void
logop(const char *fmt, unsigned long a, unsigned long b)
{
	snprintf(oplog[nop % LOGN], sizeof(oplog[0]), "%lu: ", nop);
	size_t n = strlen(oplog[nop % LOGN]);
	snprintf(oplog[nop % LOGN] + n, sizeof(oplog[0]) - n, fmt, a, b);
}

static int
die(const char *what)
{
	fprintf(stderr, "fsx: op %lu: %s (errno %d: %s)\n", nop, what, errno, strerror(errno));
	for (unsigned long i = nop >= LOGN ? nop - LOGN + 1 : 0; i <= nop; i++)
		fprintf(stderr, "  %s\n", oplog[i % LOGN]);
	exit(1);
}

static void
snapshot(const char *prefix, int k)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s.%d", prefix, k);
	if ((f = fopen(path, "wb")) == NULL || fwrite(model, 1, model_len, f) != model_len ||
	    fclose(f) != 0)
		die("cannot write a snapshot");
}

static void
check_size(int fd)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		die("fstat");
	if ((size_t)st.st_size != model_len) {
		errno = 0;
		fprintf(stderr, "fsx: size %lld, model %zu\n", (long long)st.st_size, model_len);
		die("size mismatch");
	}
}

int
main(int argc, char **argv)
{
	static uint8_t buf[MAXOP];
	unsigned long ops, reads = 0, writes = 0, truncs = 0;
	int closes, done = 0, fd;

	if (argc != 6) {
		fprintf(stderr, "usage: fsx SEED OPS FILE PREFIX CLOSES\n");
		return 2;
	}
	rng = strtoull(argv[1], NULL, 10) * 0x9E3779B97F4A7C15ull + 1;
	ops = strtoul(argv[2], NULL, 10);
	closes = atoi(argv[5]);
	if (ops == 0 || closes < 1)
		return 2;
	if ((fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0644)) < 0)
		die("open");
	for (nop = 1; nop <= ops; nop++) {
		unsigned k = (unsigned)rnd_below(100);
		size_t off, len;

		if (k < 45) {                          /* write */
			off = rnd_off(MAXLEN - 1);
			len = 1 + rnd_below(MAXOP);
			if (off + len > MAXLEN)
				len = MAXLEN - off;
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)rnd();
			logop("write off %lu len %lu", off, len);
			if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
				die("pwrite");
			if (off > model_len)
				memset(model + model_len, 0, off - model_len);
			memcpy(model + off, buf, len);
			if (off + len > model_len)
				model_len = off + len;
			writes++;
		} else if (k < 55) {                   /* truncate, down or up */
			len = rnd_below(4) == 0 ? rnd_off(MAXLEN) : rnd_below(model_len + 1);
			logop("truncate to %lu (from %lu)", len, model_len);
			if (ftruncate(fd, (off_t)len) != 0)
				die("ftruncate");
			if (len > model_len)
				memset(model + model_len, 0, len - model_len);
			model_len = len;
			truncs++;
		} else {                               /* read, maybe past the end */
			ssize_t got;
			size_t want;

			off = rnd_off(model_len + 100);
			len = 1 + rnd_below(MAXOP);
			want = off >= model_len ? 0 : (model_len - off < len ? model_len - off : len);
			logop("read off %lu len %lu", off, len);
			got = pread(fd, buf, len, (off_t)off);
			if (got < 0)
				die("pread");
			if ((size_t)got != want) {
				fprintf(stderr, "fsx: read %zd bytes, model has %zu\n", got, want);
				errno = 0;
				die("short or long read");
			}
			if (memcmp(buf, model + off, want) != 0) {
				size_t i = 0;
				while (buf[i] == model[off + i])
					i++;
				fprintf(stderr, "fsx: byte %zu differs: %02x, model %02x\n",
				    off + i, buf[i], model[off + i]);
				errno = 0;
				die("data mismatch");
			}
			reads++;
		}
		if (nop % 16 == 0)
			check_size(fd);
		/* Close (a version is sent) at evenly spread points, then reopen
		 * without O_TRUNC: the next session starts from what was sent. */
		if (nop % (ops / (unsigned long)closes) == 0 && done < closes) {
			check_size(fd);
			logop("close and reopen (version %lu)%.0lu", (unsigned long)done + 1, 0ul);
			if (close(fd) != 0)
				die("close");
			snapshot(argv[4], ++done);
			if (done == closes)
				break;
			if ((fd = open(argv[3], O_RDWR)) < 0)
				die("reopen");
			check_size(fd);
		}
	}
	printf("fsx: seed %s: %lu ops (%lu writes, %lu truncates, %lu reads), %d versions,"
	    " final size %zu\n", argv[1], nop > ops ? ops : nop, writes, truncs, reads, done,
	    model_len);
	return 0;
}
