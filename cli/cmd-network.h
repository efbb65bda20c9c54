/* The `network ...` commands that live in their own files; the group's
 * table is in cmd-network.c. */
#pragma once

#include "cli.h"

/* `network ping TARGET [-c N] [-i MS]` (cmd-net-ping.c). */
int cmd_net_ping(struct cli *cli, int argc, char **argv);
/* `network peers [--verbose]` (cmd-net-peers.c). */
int cmd_net_peers(struct cli *cli, int argc, char **argv);
