/* The receiver's side of the file system: where received bytes go and how
 * a verified file takes its place.
 *
 * Layout under the destination directory D (the receive directory, or
 * `spacedrop accept --to D`):
 *   D/.sdnetd-partial/<transfer id>/<index>.part   data received so far
 *   D/.sdnetd-partial/<transfer id>/state.json     the state record (txrec.h)
 * Final names are chosen once, when the transfer is first accepted: each
 * top-level name of the offer that already exists in D becomes
 * "name (1).ext", "name (2).ext"... (xfer_collision_name), as do two
 * offered paths that sanitise to the same name. Everything below D is
 * opened relative to D's descriptor one component at a time with
 * O_NOFOLLOW, so a symlink planted inside D never leads writes outside it.
 * A verified file is renamed into place with renameat2(RENAME_NOREPLACE):
 * it never replaces a file that appeared meanwhile (that one keeps its
 * name; ours takes the next free one). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto.h"
#include "errmsg.h"
#include "txhash.h"
#include "txrec.h"

struct xfer;
struct xfer_file;

#define TXSINK_STAGE_DIR ".sdnetd-partial"
#define TXSINK_RECORD "state.json"
/* Collision suffixes tried before giving up on a name. */
#define TXSINK_MAX_COLLISIONS 10000

struct txsink_file {
	char *final;         /* relative to dest */
	int fd;              /* the .part, open for writing, or -1 */
	uint64_t end;        /* bytes of the .part written so far (its length) */
	struct txhash *hash; /* running hash from offset 0, or NULL */
	uint64_t hash_pos;
	bool placed; /* renamed into place (or a directory made) */
};

struct txsink {
	char *dest;
	char *stage; /* absolute path of the staging directory */
	int dest_fd;
	int stage_fd;
	struct txsink_file *f;
	size_t n;
	bool closed_dirty; /* a .part was closed since the last checkpoint */
	bool hash_held;    /* a txhash_hold() to release */
};

/* Open dest (which must exist and be a directory) and create the staging
 * directory for idhex. Errors name the directory. */
int txsink_open(const char *dest, const char *idhex, struct txsink **ret, struct errmsg *e);
/* Read this transfer's state record, if any: 0 and *ret, -ENOENT, or a
 * decode error. */
int txsink_load_record(struct txsink *s, struct txrec *ret, struct errmsg *e);
/* Choose final names for x's files (offered and sanitised). prev (may be
 * NULL) is the record of an earlier attempt whose files match by index:
 * their names are kept. */
int txsink_plan(struct txsink *s, const struct xfer *x, const struct txrec *prev, struct errmsg *e);
/* After xfer_accept(): make the offered directories, and truncate every
 * unfinished file's .part to where data resumes (its `start`). */
int txsink_begin(struct txsink *s, const struct xfer *x, struct errmsg *e);
/* Write received bytes (hashed on the txhash helper thread when they
 * continue the running hash). -ENOSPC/-EDQUOT (disk full), other errnos. */
int txsink_write(struct txsink *s, size_t i, uint64_t off, const uint8_t *p, size_t len,
                 struct errmsg *e);
/* The running hash of file i when it covered all of its size bytes: 0;
 * -EAGAIN when it must be hashed from disk (resumed). */
int txsink_digest(struct txsink *s, size_t i, uint64_t size, uint8_t sha[32]);
/* Where file i's .part is (for hashing it on the worker). */
int txsink_part_path(const struct txsink *s, size_t i, char **ret);
/* Give file i its mode and mtime and rename it into place. */
int txsink_place(struct txsink *s, size_t i, const struct xfer_file *f, struct errmsg *e);
/* Close and delete file i's .part (hash mismatch). */
void txsink_discard(struct txsink *s, size_t i);
/* Modes and mtimes of the offered directories (children before parents,
 * once nothing more is written into them). */
void txsink_finish_dirs(struct txsink *s, const struct xfer *x);
/* Size of file i's .part on disk, or 0 when there is none. */
uint64_t txsink_part_size(const struct txsink *s, size_t i);
/* Whether file i's final name already holds a file of this size and
 * mtime (a rename done just before a crash). */
bool txsink_final_matches(const struct txsink *s, size_t i, const struct xfer_file *f);
/* Remove the .part files, the record and the staging directory. */
void txsink_remove(struct txsink *s);
/* Close everything (files stay). NULL-safe. */
void txsink_free(struct txsink *s);
