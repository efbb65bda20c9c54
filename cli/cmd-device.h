/* `network device ...` and the --verbose view of `network devices`
 * (cmd-device.c). */
#pragma once

#include <jansson.h>

#include "cli.h"

/* Print devices (devices.list's array, borrowed) with their metrics from
 * devices.metrics; --json: {devices, metrics}. Returns an enum cli_exit. */
int cmd_devices_verbose(struct cli *cli, json_t *devices);
