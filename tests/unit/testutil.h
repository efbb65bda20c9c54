/* Helpers shared by the unit tests: hex vectors and fixture paths. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka needs the headers above first. */
#include <cmocka.h>

#include "buf.h"

/* Decode a hex literal into a fresh buffer; aborts the test on bad hex. */
struct buf th_hex(const char *hex);
/* Assert that data equals the hex string (prints both on mismatch). */
void th_assert_hex(const uint8_t *data, size_t len, const char *hex);
/* Path of a file under ../shared/data (SDNETD_SHARED_DATA). Static buffer. */
const char *th_shared_path(const char *name);
/* Path of a file under the source tree (SDNETD_SOURCE_ROOT). Static buffer. */
const char *th_source_path(const char *rel);
/* Read a whole file into a buffer; aborts the test on failure. */
struct buf th_read_file(const char *path);
/* cmocka setup/teardown: *state is a fresh directory under /tmp (a
 * malloc'd path), removed with everything in it afterwards. */
int th_setup_tmpdir(void **state);
int th_teardown_tmpdir(void **state);
