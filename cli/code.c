/*
 * code.c - where `sealbox init` gets the enrollment code from (issue 12,
 * finding 3).
 *
 * Never from argv: every local user can read /proc/PID/cmdline, and whoever
 * registers with the code first owns a device of the account.  Nor from the
 * environment (a child would inherit it, and /proc/PID/environ leaks to
 * root and to the same user).  The code comes from
 *   - --code-file PATH: a regular file or a pipe no one but its owner may
 *     read or write (mode 0600 or stricter): the code would be theirs too;
 *   - --code-file -, or no --code-file with standard input not a terminal:
 *     the first line of standard input (a pipe, a here-document, a file);
 *   - a terminal on standard input: a prompt on stderr, echo off.
 * Only the first line counts; white space around it is dropped.  The code
 * is held in a caller buffer that the caller cleanses after use.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "cli.h"

/* Reads one line (without its '\n') into code, byte by byte: no stdio
 * buffer keeps a copy, and nothing after the line is consumed from a
 * shared stdin.  Returns the length, CLI_CODE_MAX + 1 when the line is too
 * long, or -1 with errno set. */
static int
read_line(int fd, char code[CLI_CODE_MAX + 1])
{
	size_t n = 0;
	ssize_t got;
	char c;

	for (;;) {
		if ((got = read(fd, &c, 1)) < 0)
			return -1;   /* EINTR included: a signal ends the prompt */
		if (got == 0 || c == '\n')
			break;
		if (n == CLI_CODE_MAX) {
			OPENSSL_cleanse(&c, sizeof(c));
			return CLI_CODE_MAX + 1;
		}
		code[n++] = c;
	}
	OPENSSL_cleanse(&c, sizeof(c));
	code[n] = '\0';
	return (int)n;
}

static volatile sig_atomic_t prompt_signal;

static void
on_prompt_signal(int sig)
{
	prompt_signal = sig;
}

/* Prompts on the terminal with echo off.  A signal while echo is off
 * restores the terminal first, then is raised again, so an interrupted
 * prompt never leaves a terminal that does not echo. */
static int
read_prompt(const char *address, char code[CLI_CODE_MAX + 1])
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios saved, quiet;
	size_t i;
	int n, saved_errno;

	if (tcgetattr(STDIN_FILENO, &saved) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_prompt_signal;   /* no SA_RESTART: read() returns */
	sigemptyset(&sa.sa_mask);
	prompt_signal = 0;
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	/* Echo off before the prompt shows: whoever answers it is never
	 * echoed, however fast. */
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0) {
		fprintf(stderr, "enrollment code for %s: ", address);
		fflush(stderr);
		n = read_line(STDIN_FILENO, code);
	} else {
		n = -1;
	}
	saved_errno = errno;
	(void)tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	fputc('\n', stderr);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	if (prompt_signal != 0) {
		OPENSSL_cleanse(code, CLI_CODE_MAX + 1);
		raise(prompt_signal);
		errno = EINTR;
		return -1;
	}
	errno = saved_errno;
	return n;
}

/* Opens a code file and refuses one that others may read or change. */
static int
open_code_file(const char *path)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0) {
		cli_fail("init", "--code-file %s: %s", path, strerror(errno));
		return -1;
	}
	/* fstat, not stat: the mode checked is that of the file read. */
	if (fstat(fd, &st) != 0) {
		cli_fail("init", "--code-file %s: %s", path, strerror(errno));
	} else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		cli_fail("init", "--code-file %s: not a regular file", path);
	} else if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		cli_fail("init", "--code-file %s is accessible by group or others "
		    "(mode %04o): anyone who reads the code can enroll first; "
		    "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
	} else {
		return fd;
	}
	close(fd);
	return -1;
}

/* Trims white space around code[0..n) in place; checks what is left. */
static int
finish(char code[CLI_CODE_MAX + 1], int n, const char *from)
{
	size_t start = 0, end, i;

	if (n > CLI_CODE_MAX)
		return cli_fail("init", "the enrollment code from %s is longer than %d bytes",
		    from, CLI_CODE_MAX);
	end = (size_t)n;
	while (start < end && (code[start] == ' ' || code[start] == '\t' || code[start] == '\r'))
		start++;
	while (end > start && (code[end - 1] == ' ' || code[end - 1] == '\t' ||
	    code[end - 1] == '\r'))
		end--;
	memmove(code, code + start, end - start);
	memset(code + (end - start), 0, (size_t)n + 1 - (end - start));
	if (end == start)
		return cli_fail("init", "no enrollment code on %s (give it on standard input, "
		    "at the prompt or with --code-file FILE)", from);
	for (i = 0; code[i] != '\0'; i++)
		if ((unsigned char)code[i] <= 0x20 || (unsigned char)code[i] >= 0x7f)
			return cli_fail("init", "the enrollment code from %s is not printable "
			    "ASCII (is it the line sealbox-relay invite printed?)", from);
	return 0;
}

int
cli_code_read(const char *file, const char *address, char code[CLI_CODE_MAX + 1])
{
	const char *from = "standard input";
	int fd = STDIN_FILENO, n, rc;

	memset(code, 0, CLI_CODE_MAX + 1);
	if (file != NULL && strcmp(file, "-") != 0) {
		if ((fd = open_code_file(file)) < 0)
			return 1;
		from = file;
		n = read_line(fd, code);
		close(fd);
	} else if (isatty(STDIN_FILENO)) {
		from = "the terminal";
		n = read_prompt(address, code);
	} else {
		n = read_line(STDIN_FILENO, code);
	}
	if (n < 0)
		rc = cli_fail("init", "reading the enrollment code from %s: %s", from,
		    strerror(errno));
	else
		rc = finish(code, n, from);
	if (rc != 0)
		OPENSSL_cleanse(code, CLI_CODE_MAX + 1);
	return rc;
}
