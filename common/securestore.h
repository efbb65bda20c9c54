/* Encrypted storage at rest (the seed's SecureStorage).
 *
 * Layout under the store's root (the instance data directory):
 *   devices/ connections/ history/   encrypted records, one file per key
 *   queue/ dedup/ inbox/             durable device messages: outbound, ids
 *                                    received, received but not finished
 *   storage.key                      random 256-bit key (only without password)
 *   storage.kdf                      password check record: salt, iterations
 *
 * Each record file is: magic "SDSS", format version, KDF id and parameters
 * (iterations, salt) so they can be raised later, a 12-byte nonce, then
 * AES-256-GCM ciphertext+tag over the payload with the header as AAD.
 * The byte layout and its parser live in storefile.h; docs/storage.md has
 * the whole story.
 * Writes are atomic (temp file in the same directory, fsync, rename, fsync
 * directory). Directories 0700, files 0600.
 *
 * Errors carry a struct errmsg naming the file and the remedy:
 *   -EACCES        wrong password ("... was written with a different password;
 *                  pass the right one with --password-file")
 *   -EBADMSG       truncated/corrupt file (names the file; nothing is removed)
 *   -ENOENT        no such record
 *   -ENOSPC/-EIO   write failed (the old file is left intact)
 *   -EPERM         storage.key is readable by others or not ours (chmod 600)
 *   -EINVAL        bad namespace or record name, empty password */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

/* OWASP 2023 figure for PBKDF2-HMAC-SHA256; the floor we accept on write. */
#define SECURESTORE_PBKDF2_ITERATIONS 600000
/* Largest record payload we write or read (a file this big is refused with
 * -EFBIG before anything is allocated for it). */
#define SECURESTORE_MAX_RECORD ((size_t)16 << 20)
/* Longest record name; leaves room for the temp-file suffix in NAME_MAX. */
#define SECURESTORE_NAME_MAX 200

struct securestore;

struct securestore_opts {
	/* Password bytes (not NUL-terminated necessarily) or NULL for a key file. */
	const uint8_t *password;
	size_t password_len;
	/* 0 means SECURESTORE_PBKDF2_ITERATIONS. Tests may set lower values
	 * only through this field; the daemon never does. When an existing
	 * store's storage.kdf has fewer iterations, opening it with the right
	 * password raises them (new salt, rewritten storage.kdf); records keep
	 * their own parameters until rewritten. Never lowered. */
	uint32_t iterations;
};

/* Open (creating the root and subdirectories 0700 if missing). With a
 * password, an existing store is checked against it: a wrong password fails
 * with -EACCES before anything is written. Without one, the key file is
 * created (0600) on first use and refused if its mode is looser than 0600. */
int securestore_open(const char *root, const struct securestore_opts *opts,
                     struct securestore **ret, struct errmsg *err);
/* Wipes every key and the password copy. NULL is allowed. */
void securestore_close(struct securestore *s);

/* ns is one of "devices", "connections", "history", "queue", "dedup", "inbox" (or "" for the root, for
 * the identity record); name is a file name made of [A-Za-z0-9._-] only, at
 * most SECURESTORE_NAME_MAX long, not starting with '.' (so never "." or
 * "..", nor a temp file); in the root it may not be storage.key, storage.kdf
 * or a namespace name. */
int securestore_put(struct securestore *s, const char *ns, const char *name, const void *data,
                    size_t len, struct errmsg *err);
/* Appends the payload to out (use a _cleanup_secret_buf_); on failure
 * out->len is unchanged (its storage may have grown: free it either way). */
int securestore_get(struct securestore *s, const char *ns, const char *name, struct buf *out,
                    struct errmsg *err);
/* Unlink the record and fsync its directory, so the removal is durable. */
int securestore_delete(struct securestore *s, const char *ns, const char *name, struct errmsg *err);
/* For many removals at once: unlink without the directory fsync, then one
 * securestore_sync(ns) for all (until then a crash may bring some back). */
int securestore_unlink(struct securestore *s, const char *ns, const char *name, struct errmsg *err);
int securestore_sync(struct securestore *s, const char *ns, struct errmsg *err);
/* List record names in ns (sorted); *names is a NULL-terminated array the
 * caller frees with securestore_names_free. */
int securestore_list(struct securestore *s, const char *ns, char ***names, struct errmsg *err);
void securestore_names_free(char **names);
