/* Lower-case hex encoding, used for logs, test vectors and JSON. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* out must hold 2*len+1 bytes; always NUL-terminates. */
void hex_encode(const uint8_t *data, size_t len, char *out);
/* Appends decoded bytes; accepts upper and lower case; -EINVAL on an odd
 * length or a non-hex character. */
int hex_decode(const char *s, size_t slen, struct buf *out);
