/* The command table: every group's rows, matched against argv by words. */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "cli.h"

/* The row whose words match the longest prefix of argv, or NULL. On success
 * *ret_nwords is how many arguments the words used. */
const struct cli_command *commands_find(int argc, char **argv, int *ret_nwords);

/* Does some row start with these n words ("network" for "network info")? */
bool commands_is_prefix(int n, char **words);

/* The command list for `spacedrive --help`. */
void commands_list(FILE *f);

/* A row's own help (`spacedrive network info --help`). */
void commands_help(const struct cli_command *c, FILE *f);

/* For commands without arguments: CLI_EXIT_OK when argc is 0, else a usage
 * error naming the first unexpected argument. */
int commands_no_args(const struct cli *cli, const char *words, int argc, char **argv);
