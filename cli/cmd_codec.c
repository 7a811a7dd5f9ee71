#include "cli.h"
int cmd_keygen(int c, char **v) { (void)c; return cli_fail(v[0], "unavailable"); }
int cmd_seal(int c, char **v) { (void)c; return cli_fail(v[0], "unavailable"); }
int cmd_open(int c, char **v) { (void)c; return cli_fail(v[0], "unavailable"); }
