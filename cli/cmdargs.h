/* A command's own options and operands (`network ping TARGET -c 3`): the
 * global ones (--instance, --json...) are parsed by main.c before the
 * command; these come after its words, in any order. --json and -j are
 * accepted here too, so `network peers --json` works like
 * `--json network peers`. */
#pragma once

#include <stdbool.h>

#include "cli.h"

struct cmdargs_opt {
	const char *name; /* long name without "--" */
	char short_name;  /* 0: none */
	/* Exactly one of these: a flag, or a value checked as an integer in
	 * [min, max]. */
	bool *flag;
	long *value;
	long min, max;
};

/* Parse argv (argc may be 0) against opts (ending with a zeroed row).
 * Operands go to operands[] in order; between min_operands and
 * max_operands are required, each named by operand_names (for messages,
 * e.g. {"MULTIADDR"}). "--" ends the options. Returns CLI_EXIT_OK, or a
 * usage error (printed; exit 2) naming the command. */
int cmdargs_parse(struct cli *cli, const char *words, int argc, char **argv,
                  const struct cmdargs_opt *opts, const char *const *operand_names,
                  int min_operands, int max_operands, char **operands);
