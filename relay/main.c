/*
 * main.c - sealbox-relay entry point.  The relay itself is issue 4's work;
 * until it lands this binary only prints its usage.
 */
#include <stdio.h>

int
main(int argc, char **argv)
{
	(void)argv;
	fprintf(argc > 1 ? stderr : stdout,
	    "usage: sealbox-relay init|serve|invite --data DIR ...\n"
	    "sealbox-relay: not built yet\n");
	return argc > 1 ? 2 : 0;
}
