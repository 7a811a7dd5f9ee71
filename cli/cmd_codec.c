/*
 * cmd_codec.c - the offline codec: `sealbox keygen | seal | open` on files
 * (DESIGN.md 4).
 *
 * These are the only commands that keep private keys in files (PKCS#8 PEM,
 * created 0600 with O_EXCL, never overwritten); the mailbox keeps its keys
 * in the keyring.  `open` writes nothing unless the payload verified
 * completely: plaintext is buffered, and --out is written to a temporary
 * file in the same directory that is renamed over the target only on
 * success.  Every failure is one line on stderr, "sealbox: CMD: reason".
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../common/sberr.h"
#include "../common/wire.h"
#include "../crypto/crypto.h"
#include "cli.h"

#define KEY_FILE_MAX  16384   /* an RSA-4096 PKCS#8 PEM is ~3.3 KB */
#define EXIT_USAGE    2

/* cli_fail for a usage error: same one line, exit status 2. */
#define usage_fail(...) (cli_fail(__VA_ARGS__), EXIT_USAGE)

/* ---- small file helpers ------------------------------------------------- */

/*
 * Reads all of path (stdin when NULL) into out, at most max bytes; one
 * byte more is SB_ERR_TOO_BIG.  SB_ERR_SYSTEM leaves errno set.
 */
static int
read_all(const char *path, size_t max, struct sb_buf *out)
{
	int fd = path == NULL ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	int rc = SB_OK, saved;

	if (fd < 0)
		return SB_ERR_SYSTEM;
	for (;;) {
		uint8_t *dst;
		ssize_t n;

		if ((rc = sb_buf_reserve(out, 65536, &dst)) != SB_OK)
			break;
		n = read(fd, dst, 65536);
		sb_buf_truncate(out, out->len - 65536 + (n > 0 ? (size_t)n : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = SB_ERR_SYSTEM;
			break;
		}
		if (n == 0)
			break;
		if (out->len > max) {
			rc = SB_ERR_TOO_BIG;
			break;
		}
	}
	saved = errno;
	if (path != NULL)
		close(fd);
	errno = saved;
	return rc;
}

static int
write_fd(int fd, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return SB_ERR_SYSTEM;
		p += n;
		len -= (size_t)n;
	}
	return SB_OK;
}

/*
 * Writes data to stdout (path NULL) or atomically to path: a 0600
 * temporary in the same directory, fsynced, then renamed over path, so a
 * reader never sees a partial file and a failure leaves path untouched.
 */
static int
write_output(const char *path, const uint8_t *data, size_t len)
{
	char *copy, tmp[4096];
	int fd, rc, saved;

	if (path == NULL)
		return write_fd(STDOUT_FILENO, data, len);
	if ((copy = strdup(path)) == NULL)
		return SB_ERR_ALLOC;
	rc = snprintf(tmp, sizeof(tmp), "%s/.sealbox-out.XXXXXX", dirname(copy));
	free(copy);
	if (rc < 0 || (size_t)rc >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return SB_ERR_SYSTEM;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return SB_ERR_SYSTEM;
	rc = write_fd(fd, data, len);
	if (rc == SB_OK && fsync(fd) != 0)
		rc = SB_ERR_SYSTEM;
	saved = errno;
	if (close(fd) != 0 && rc == SB_OK) {
		rc = SB_ERR_SYSTEM;
		saved = errno;
	}
	if (rc == SB_OK && rename(tmp, path) != 0) {
		rc = SB_ERR_SYSTEM;
		saved = errno;
	}
	if (rc != SB_OK)
		unlink(tmp);
	errno = saved;
	return rc;
}

/* Creates dir/name exclusively with `mode` and writes data into it. */
static int
create_file(const char *dir, const char *name, mode_t mode, const uint8_t *data,
    size_t len)
{
	char path[4096];
	int fd, rc, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return SB_ERR_SYSTEM;
	}
	/* O_EXCL: never follow a planted symlink, never overwrite a key;
	 * the mode is right from the first byte, no chmod race. */
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
	    mode)) < 0)
		return SB_ERR_SYSTEM;
	rc = write_fd(fd, data, len);
	if (rc == SB_OK && fsync(fd) != 0)
		rc = SB_ERR_SYSTEM;
	saved = errno;
	close(fd);
	if (rc != SB_OK)
		unlink(path);
	errno = saved;
	return rc;
}

static void
remove_file(const char *dir, const char *name)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) < sizeof(path))
		unlink(path);
}

/* ---- loading keys and identities ---------------------------------------- */

static int
load_key(const char *cmd, const char *what, const char *path, struct crypto_key **out)
{
	struct sb_buf b = SB_BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = read_all(path, KEY_FILE_MAX, &b)) == SB_OK)
		rc = crypto_key_from_pkcs8_pem(b.d, b.len, out);
	sb_buf_free(&b);
	if (rc != SB_OK)
		return cli_fail(cmd, "%s %s: %s", what, path, sb_strerror(rc));
	return 0;
}

static int
load_identity(const char *cmd, const char *what, const char *path,
    struct crypto_identity **out)
{
	struct sb_buf b = SB_BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = read_all(path, CRYPTO_IDENTITY_MAX, &b)) == SB_OK)
		rc = crypto_identity_parse(b.d, b.len, out);
	sb_buf_free(&b);
	if (rc != SB_OK)
		return cli_fail(cmd, "%s identity %s: %s", what, path, sb_strerror(rc));
	return 0;
}

/* ---- keygen ------------------------------------------------------------- */

static void
keygen_usage(FILE *f)
{
	fprintf(f,
	    "usage: sealbox keygen [--suite pair|ec] [--bits N] --out DIR\n"
	    "\n"
	    "Generates one device's keys into files (the offline codec; a mailbox's\n"
	    "keys live in the keyring instead) and prints H(identity) in hex:\n"
	    "DIR/sign.pem (ECDSA P-256), DIR/encrypt.pem (PKCS#8 PEM, mode 0600) and\n"
	    "DIR/identity.der (the public identity, docs/PROTOCOL.md).\n"
	    "\n"
	    "  --suite pair|ec  the encryption key: pair (default) RSA-OAEP as iMessage\n"
	    "                   devices use, ec P-256 for ECIES\n"
	    "  --bits N         RSA modulus size for suite pair, %d..%d (default %d)\n"
	    "  --out DIR        where the files go (created; existing files are kept)\n"
	    "  -h, --help       this help\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure, 2 usage.\n",
	    CRYPTO_RSA_BITS_MIN, CRYPTO_RSA_BITS_MAX, CRYPTO_RSA_BITS_DEFAULT);
}

static const char *const keygen_files[] = { "sign.pem", "encrypt.pem", "identity.der" };

static int
keygen_write(const char *dir, const struct crypto_key *sk, const struct crypto_key *ek,
    const struct crypto_identity *id)
{
	struct sb_buf s = SB_BUF_INIT, e = SB_BUF_INIT;
	const uint8_t *der;
	size_t der_len, made = 0;
	int rc;

	crypto_identity_der(id, &der, &der_len);
	if ((rc = crypto_key_to_pkcs8_pem(sk, &s)) == SB_OK &&
	    (rc = crypto_key_to_pkcs8_pem(ek, &e)) == SB_OK &&
	    (rc = create_file(dir, keygen_files[made], 0600, s.d, s.len)) == SB_OK &&
	    (rc = create_file(dir, keygen_files[++made], 0600, e.d, e.len)) == SB_OK &&
	    (rc = create_file(dir, keygen_files[++made], 0644, der, der_len)) == SB_OK)
		made++;
	if (rc != SB_OK) {
		int saved = errno;

		/* Leave no half-made key set behind. */
		while (made > 0)
			remove_file(dir, keygen_files[--made]);
		errno = saved;
	}
	sb_buf_free(&s);
	sb_buf_free(&e);
	return rc;
}

static int
keygen_prepare_dir(const char *dir)
{
	struct stat st;
	char path[4096];
	size_t i;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return cli_fail("keygen", "%s: %s", dir, strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return cli_fail("keygen", "%s: not a directory", dir);
	/* Checked before the (slow) generation; O_EXCL re-checks at creation. */
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, keygen_files[i]);
		if (lstat(path, &st) == 0)
			return cli_fail("keygen", "%s exists; refusing to overwrite", path);
	}
	return 0;
}

static void
print_hash(const struct crypto_identity *id)
{
	const uint8_t *h = crypto_identity_hash(id);
	size_t i;

	for (i = 0; i < CRYPTO_HASH_LEN; i++)
		printf("%02x", h[i]);
	printf("\n");
}

int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "suite", required_argument, NULL, 's' },
		{ "bits", required_argument, NULL, 'b' },
		{ "out", required_argument, NULL, 'o' },
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum crypto_suite suite = CRYPTO_SUITE_PAIR;
	struct crypto_key *sk = NULL, *ek = NULL;
	struct crypto_identity *id = NULL;
	unsigned long bits = CRYPTO_RSA_BITS_DEFAULT;
	const char *dir = NULL;
	int c, rc, bits_given = 0;
	char *end;

	optind = 0;
	opterr = 0;     /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (strcmp(optarg, "pair") == 0)
				suite = CRYPTO_SUITE_PAIR;
			else if (strcmp(optarg, "ec") == 0)
				suite = CRYPTO_SUITE_EC;
			else
				return usage_fail("keygen", "--suite must be pair or ec");
			break;
		case 'b':
			errno = 0;
			bits = strtoul(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || bits < CRYPTO_RSA_BITS_MIN ||
			    bits > CRYPTO_RSA_BITS_MAX)
				return usage_fail("keygen", "--bits must be %d..%d",
				    CRYPTO_RSA_BITS_MIN, CRYPTO_RSA_BITS_MAX);
			bits_given = 1;
			break;
		case 'o':
			dir = optarg;
			break;
		case 'H':
			break;  /* every command takes --home; the codec uses none */
		case 'h':
			keygen_usage(stdout);
			return 0;
		default:
			return usage_fail("keygen", "unknown option or missing argument (try --help)");
		}
	}
	if (dir == NULL || optind != argc)
		return usage_fail("keygen", "usage: sealbox keygen [--suite pair|ec] [--bits N] --out DIR");
	if (bits_given && suite == CRYPTO_SUITE_EC)
		return usage_fail("keygen", "--bits applies to suite pair only");
	if (keygen_prepare_dir(dir) != 0)
		return 1;
	if ((rc = crypto_key_generate_sign(&sk)) == SB_OK &&
	    (rc = crypto_key_generate_encrypt(suite, (unsigned)bits, &ek)) == SB_OK &&
	    (rc = crypto_identity_from_keys(sk, ek, &id)) == SB_OK &&
	    (rc = keygen_write(dir, sk, ek, id)) == SB_OK)
		print_hash(id);
	crypto_key_free(sk);
	crypto_key_free(ek);
	crypto_identity_free(id);
	if (rc != SB_OK)
		return cli_fail("keygen", "%s: %s", dir, sb_strerror(rc));
	return 0;
}

/* ---- seal and open: shared option parsing ------------------------------- */

struct codec_args {
	const char *key, *sender, *recipient, *in, *out;
};

/* Returns -1 to continue, else the exit status (help or usage error). */
static int
codec_parse(const char *cmd, const char *keyopt, void (*usage)(FILE *),
    int argc, char **argv, struct codec_args *a)
{
	const struct option opts[] = {
		{ keyopt, required_argument, NULL, 'k' },
		{ "sender", required_argument, NULL, 's' },
		{ "recipient", required_argument, NULL, 'r' },
		{ "in", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'o' },
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 0;
	opterr = 0;     /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': a->key = optarg; break;
		case 's': a->sender = optarg; break;
		case 'r': a->recipient = optarg; break;
		case 'i': a->in = optarg; break;
		case 'o': a->out = optarg; break;
		case 'H': break;  /* accepted everywhere; the codec uses no home */
		case 'h':
			usage(stdout);
			return 0;
		default:
			(void)usage;
			return usage_fail(cmd, "unknown option or missing argument (try --help)");
		}
	}
	if (a->key == NULL || a->sender == NULL || a->recipient == NULL || optind != argc) {
		cli_fail(cmd, "--%s, --sender and --recipient are required (see --help)", keyopt);
		return EXIT_USAGE;
	}
	return -1;
}

/* ---- seal --------------------------------------------------------------- */

static void
seal_usage(FILE *f)
{
	fprintf(f,
	    "usage: sealbox seal --sign-key F --sender IDENTITY --recipient IDENTITY\n"
	    "                    [--in F] [--out F]\n"
	    "\n"
	    "Seals a message for one recipient device (the offline codec), in the\n"
	    "recipient identity's suite.\n"
	    "\n"
	    "  --sign-key F          the sender's signing key (keygen's sign.pem)\n"
	    "  --sender IDENTITY     the sender's identity.der (of that signing key)\n"
	    "  --recipient IDENTITY  the recipient device's identity.der\n"
	    "  --in F                the message (default: standard input)\n"
	    "  --out F               the sealed payload (default: standard output)\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure, 2 usage.\n");
}

static int
seal_run(const struct codec_args *a, const struct crypto_key *sk,
    const struct crypto_identity *s, const struct crypto_identity *r)
{
	struct sb_buf m = SB_BUF_INIT, p = SB_BUF_INIT;
	size_t max = crypto_seal_max_plaintext(r);
	int rc;

	if (!crypto_identity_matches(s, sk, NULL))
		return cli_fail("seal", "sign key %s does not match the sender identity %s",
		    a->key, a->sender);
	rc = read_all(a->in, max, &m);
	if (rc == SB_ERR_TOO_BIG)
		rc = cli_fail("seal", "input is larger than one payload holds (%zu bytes "
		    "for this recipient); send it as an attachment", max);
	else if (rc != SB_OK)
		rc = cli_fail("seal", "%s: %s", a->in ? a->in : "stdin", sb_strerror(rc));
	else if ((rc = crypto_seal(sk, s, r, m.d, m.len, &p)) != SB_OK)
		rc = cli_fail("seal", "%s", sb_strerror(rc));
	else if ((rc = write_output(a->out, p.d, p.len)) != SB_OK)
		rc = cli_fail("seal", "%s: %s", a->out ? a->out : "stdout", sb_strerror(rc));
	sb_buf_free(&m);
	sb_buf_free(&p);
	return rc;
}

int
cmd_seal(int argc, char **argv)
{
	struct codec_args a;
	struct crypto_key *sk = NULL;
	struct crypto_identity *s = NULL, *r = NULL;
	int rc = codec_parse("seal", "sign-key", seal_usage, argc, argv, &a);

	if (rc >= 0)
		return rc;
	if ((rc = load_key("seal", "sign key", a.key, &sk)) == 0 &&
	    (rc = load_identity("seal", "sender", a.sender, &s)) == 0 &&
	    (rc = load_identity("seal", "recipient", a.recipient, &r)) == 0)
		rc = seal_run(&a, sk, s, r);
	crypto_key_free(sk);
	crypto_identity_free(s);
	crypto_identity_free(r);
	return rc;
}

/* ---- open --------------------------------------------------------------- */

static void
open_usage(FILE *f)
{
	fprintf(f,
	    "usage: sealbox open --encrypt-key F --recipient IDENTITY --sender IDENTITY\n"
	    "                    [--in F] [--out F]\n"
	    "\n"
	    "Verifies the sender's signature, unwraps the message key, decrypts and\n"
	    "checks the integrity tag (the offline codec).  On any failure nothing is\n"
	    "written (an existing --out file is left as it was) and one line on\n"
	    "stderr names the reason.\n"
	    "\n"
	    "  --encrypt-key F       the recipient's encryption key (keygen's encrypt.pem)\n"
	    "  --recipient IDENTITY  the recipient's identity.der (of that key)\n"
	    "  --sender IDENTITY     the sender's identity.der, whose signature must verify\n"
	    "  --in F                the sealed payload (default: standard input)\n"
	    "  --out F               the message (default: standard output)\n"
	    "  -h, --help            this help\n"
	    "\n"
	    "Exit status: 0 ok, 1 failure (it did not open), 2 usage.\n");
}

/* The one-line reason for a payload that did not open. */
static const char *
open_reason(int rc)
{
	switch (rc) {
	case SB_ERR_FORMAT:
		return "bad header: not a payload of the recipient's suite (version byte)";
	case SB_ERR_TRUNCATED:
		return "payload is truncated";
	case SB_ERR_TRAILING:
		return "trailing bytes after the payload";
	case SB_ERR_LENGTH:
		return "bad lengths: a length field is out of bounds for this recipient";
	case SB_ERR_SIGNATURE:
		return "signature does not verify (wrong sender identity, or the payload was altered)";
	case SB_ERR_UNWRAP:
		return "message key does not unwrap (OAEP/ECIES failed: wrong recipient, or a corrupt key block)";
	case SB_ERR_TAG:
		return "integrity tag mismatch (wrong sender or recipient identity, or a forged message)";
	default:
		return sb_strerror(rc);
	}
}

static int
open_run(const struct codec_args *a, const struct crypto_key *ek,
    const struct crypto_identity *s, const struct crypto_identity *r)
{
	struct sb_buf p = SB_BUF_INIT, m = SB_BUF_INIT;
	int rc;

	rc = read_all(a->in, CRYPTO_PAYLOAD_MAX, &p);
	if (rc == SB_ERR_TOO_BIG)
		rc = cli_fail("open", "%s", open_reason(SB_ERR_TRAILING));
	else if (rc != SB_OK)
		rc = cli_fail("open", "%s: %s", a->in ? a->in : "stdin", sb_strerror(rc));
	else if ((rc = crypto_open(ek, r, s, p.d, p.len, &m)) != SB_OK)
		rc = cli_fail("open", "%s", open_reason(rc));
	else if ((rc = write_output(a->out, m.d, m.len)) != SB_OK)
		rc = cli_fail("open", "%s: %s", a->out ? a->out : "stdout", sb_strerror(rc));
	sb_buf_free(&p);
	sb_buf_free(&m);
	return rc;
}

int
cmd_open(int argc, char **argv)
{
	struct codec_args a;
	struct crypto_key *ek = NULL;
	struct crypto_identity *s = NULL, *r = NULL;
	int rc = codec_parse("open", "encrypt-key", open_usage, argc, argv, &a);

	if (rc >= 0)
		return rc;
	if ((rc = load_key("open", "encrypt key", a.key, &ek)) == 0 &&
	    (rc = load_identity("open", "sender", a.sender, &s)) == 0 &&
	    (rc = load_identity("open", "recipient", a.recipient, &r)) == 0) {
		if (!crypto_identity_matches(r, NULL, ek))
			rc = cli_fail("open", "wrong recipient identity: %s is not the identity "
			    "of encrypt key %s", a.recipient, a.key);
		else
			rc = open_run(&a, ek, s, r);
	}
	crypto_key_free(ek);
	crypto_identity_free(s);
	crypto_identity_free(r);
	return rc;
}
