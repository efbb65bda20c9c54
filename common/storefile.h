/* The on-disk format of one securestore record (and of storage.kdf, which is
 * a record holding a known plaintext). Layout, all integers big-endian:
 *
 *   off  len  field
 *   0    4    magic "SDSS"
 *   4    1    format version (1)
 *   5    1    KDF id: 0 = key file (no KDF), 1 = PBKDF2-HMAC-SHA256
 *   6    1    salt length S: 0 for id 0, 16 for id 1
 *   7    1    flags, 0
 *   8    4    PBKDF2 iterations: 0 for id 0, 1..STOREFILE_MAX_ITERATIONS for id 1
 *   12   S    salt
 *   12+S 12   AES-256-GCM nonce (random per write)
 *   24+S n    ciphertext of the n-byte payload
 *   ...  16   GCM tag
 *
 * The AAD is bytes 0..24+S (the whole header, nonce included) followed by the
 * record's label, its path relative to the store root ("devices/<name>"), so a
 * record copied or renamed to another name fails authentication. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

#define STOREFILE_MAGIC "SDSS"
#define STOREFILE_VERSION 1
#define STOREFILE_KDF_NONE 0
#define STOREFILE_KDF_PBKDF2_SHA256 1
#define STOREFILE_SALT_LEN 16
#define STOREFILE_NONCE_LEN 12
#define STOREFILE_TAG_LEN 16
#define STOREFILE_KEY_LEN 32
#define STOREFILE_FIXED_LEN 12
#define STOREFILE_HEADER_MAX (STOREFILE_FIXED_LEN + STOREFILE_SALT_LEN + STOREFILE_NONCE_LEN)
/* A file can make us run PBKDF2 with its own iteration count; this cap keeps
 * a planted file from stalling the daemon for minutes (about 10 s here). */
#define STOREFILE_MAX_ITERATIONS 10000000u

struct storefile_kdf {
	uint8_t id;
	uint32_t iterations;
	uint8_t salt_len;
	uint8_t salt[STOREFILE_SALT_LEN];
};

/* A parsed file. Pointers borrow the parsed bytes. */
struct storefile {
	struct storefile_kdf kdf;
	const uint8_t *nonce;
	const uint8_t *header; /* bytes 0 .. header_len: the AAD prefix */
	size_t header_len;
	const uint8_t *ct; /* ciphertext followed by the tag */
	size_t ct_len;
};

/* Parse a file's bytes: -EBADMSG with a message (without the file name;
 * callers prefix it) for bad magic, unknown version or KDF, inconsistent KDF
 * fields, or a file too short to hold a header and a tag. */
int storefile_parse(const uint8_t *data, size_t len, struct storefile *ret, struct errmsg *err);
/* Append the header for kdf and nonce to out. */
int storefile_encode_header(const struct storefile_kdf *kdf,
                            const uint8_t nonce[STOREFILE_NONCE_LEN], struct buf *out);
/* Encrypt pt into a complete file appended to out, with a fresh nonce. */
int storefile_seal(const struct storefile_kdf *kdf, const uint8_t key[STOREFILE_KEY_LEN],
                   const char *label, const void *pt, size_t pt_len, struct buf *out);
/* Decrypt and append the payload to out; -EBADMSG if authentication fails
 * (out->len unchanged; nothing unauthenticated is left in its storage). */
int storefile_open(const struct storefile *f, const uint8_t key[STOREFILE_KEY_LEN],
                   const char *label, struct buf *out);
