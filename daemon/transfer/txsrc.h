/* The sender's side of the file system: what a send offers (files and
 * whole directory trees, with modes and mtimes) and reading it back in
 * order while hashing.
 *
 * Scanning: each path the user names becomes an entry under its base name;
 * a directory is walked depth first, children sorted by name, directories
 * offered before their contents. Inside a tree, symbolic links and special
 * files (sockets, FIFOs, devices) are skipped and counted: following a
 * link could send files from outside the tree the user chose. A path named
 * on the command line may itself be a symlink (it is followed).
 *
 * Reading is sequential per file: the SHA-256 of a file is computed as its
 * bytes are read for sending (from offset 0 to its end), so the hash costs
 * no second pass; the hashing itself runs on the txhash helper thread
 * (txhash.h) while the loop seals and sends. A resumed file was hashed ahead (txsrc_hash_file on the
 * worker thread) and its prefix is never read again. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "crypto.h"
#include "errmsg.h"
#include "txhash.h"
#include "txrec.h"

struct xfer;

/* Deepest directory nesting walked (each level is a component on the wire,
 * where DEVMSG_MAX_LIST caps them at 1024). */
#define TXSRC_MAX_DEPTH 128

struct txsrc_file {
	char *src; /* local absolute path */
	char *rel; /* offered path, '/'-separated */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode; /* permission bits */
	bool dir;
	bool follow; /* named by the user: may be a symlink */
};

struct txsrc {
	struct txsrc_file *files;
	size_t n, cap;
	size_t skipped; /* symlinks and special files inside trees */
	/* The file being read and its running hash. */
	int fd;
	size_t fd_idx;
	struct txhash *hash;
	size_t hash_idx;
	uint64_t hash_pos;
	bool hash_held; /* a txhash_hold() to release */
};

/* Scan absolute paths. Errors: -ENOENT/-EACCES/... naming the path,
 * -EINVAL (a relative path, or nothing to send), -EMSGSIZE (more than
 * XFER_MAX_FILES entries or a path too long to offer), -ENOMEM. */
int txsrc_scan(const char *const *paths, size_t n, struct txsrc **ret, struct errmsg *e);
/* The files of a sender record (a restarted sender). */
int txsrc_from_record(const struct txrec *r, struct txsrc **ret);
/* Fill a record's file list (for txrec_encode_out). */
int txsrc_to_record(const struct txsrc *s, struct txrec *r);
/* xfer_add_file() for every file (empty files carry their hash). names
 * (tests only, may be NULL): a JSON array whose i-th item, an array of
 * strings, replaces the path components offered for file i. */
int txsrc_add_to(const struct txsrc *s, struct xfer *x, const json_t *names, struct errmsg *e);
uint64_t txsrc_total_bytes(const struct txsrc *s);

/* Append len bytes of file i from offset off to out. When these bytes
 * complete a hash that covered the whole file from 0, *ret_hashed is set
 * and sha holds it. Errors: the open/read errno naming the file; -EIO
 * "shrank" when the file ends early. */
int txsrc_read(struct txsrc *s, size_t i, uint64_t off, size_t len, struct buf *out,
               uint8_t sha[32], bool *ret_hashed, struct errmsg *e);
/* Close the open file and drop a partial hash (a new attempt). */
void txsrc_reset(struct txsrc *s);
void txsrc_free(struct txsrc *s);

/* Hash a whole file (worker thread: touches nothing shared). Checks that
 * its size is still `size`: -ESTALE otherwise. */
int txsrc_hash_file(const char *path, bool follow, uint64_t size, uint8_t sha[32],
                    struct errmsg *e);
