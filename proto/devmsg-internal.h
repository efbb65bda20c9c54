/* Pieces of devmsg shared between its .c files; not for other modules. */
#pragma once

#include <protobuf-c/protobuf-c.h>

#include "devmsg.h"

/* Walk the raw protobuf bytes of a DeviceMessage, descending into every
 * known sub-message, and check lengths, list counts, nesting, unknown-field
 * counts and the body (exactly one, known) before anything is allocated.
 * Fills *f as far as it can (id, code, reply). */
int devmsg_scan_wire(const uint8_t *data, size_t len, struct devmsg_fault *f, struct errmsg *e);

/* Check a message tree in memory: strings, bytes and lists within the caps,
 * enum values known, nesting bounded. -EMSGSIZE or -EINVAL. */
int devmsg_check_tree(const ProtobufCMessage *m, struct errmsg *e);
