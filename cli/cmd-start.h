/* `spacedrive start`: its row lives in cmd-daemon.c's table. */
#pragma once

#include "cli.h"

int cmd_start_run(struct cli *cli, int argc, char **argv);
