/*
 * main.c - the sealbox command-line entry point: dispatches to cli/cmd_*.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

#ifndef SB_VERSION
#error "SB_VERSION is defined by the Makefile (VERSION)"
#endif

static const struct cli_command commands[] = {
	{ "init",    "create this device: keys into the keyring, register at the relay", cmd_init },
	{ "devices", "list an address's devices with key fingerprints", cmd_devices },
	{ "verify",  "show the verification code to compare with a contact, or confirm theirs", cmd_verify },
	{ "trust",   "pinned keys and their state; accept a contact's changed devices", cmd_trust },
	{ "mount",   "mount the mailbox (outbox/, inbox/) and run the agent", cmd_mount },
	{ "umount",  "unmount once no file is open, wait for the mount's process", cmd_umount },
	{ "status",  "this device, its relay, keyring and outbox", cmd_status },
	{ "watch",   "one line per message that arrives, until the mount goes", cmd_watch },
	{ "keygen", "generate a device key pair into files (offline codec)", cmd_keygen },
	{ "seal",   "seal a message for one recipient device (offline codec)", cmd_seal },
	{ "open",   "verify and open a sealed payload (offline codec)", cmd_open },
};

static void
usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: sealbox COMMAND [OPTIONS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\nRun 'sealbox COMMAND --help' for a command's options;"
	    " 'sealbox --version' for the version.\n");
}

int
cli_fail(const char *cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Messages quote arguments and file names: a control character in one
	 * (a newline, an escape sequence) must not break the one-line rule or
	 * paint the terminal. */
	for (i = 0; msg[i] != '\0'; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = '?';
	fprintf(stderr, "sealbox: %s: %s\n", cmd, msg);
	return 1;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("sealbox %s\n", SB_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "sealbox: unknown command '%s' (try 'sealbox --help')\n", argv[1]);
	return 2;
}
