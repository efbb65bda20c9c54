/* The file-transfer service's records, as JSON (codec only, no I/O; the
 * decoders are fuzzed by tests/fuzz/fuzz_txrec.c). docs/transfers.md has
 * the layout and why it is JSON next to the .part files.
 *
 * Receiving side, <dest>/.sdnetd-partial/<id>/state.json, rewritten
 * atomically at every checkpoint after the .part files were fsynced:
 *   {"version":1, "transfer_id":"<32 hex>", "peer_id":"12D3...",
 *    "device_id":"<uuid or empty>", "spacedrop":false, "dest":"/abs/dir",
 *    "created_ms":<unix ms>, "total_bytes":N,
 *    "files":[{"path":"a/b.txt", "final":"a (1)/b.txt", "size":N,
 *              "mtime_sec":S, "mtime_nsec":NS, "mode":420, "dir":false,
 *              "durable":N, "verified":false}, ...]}
 * "path" is the sanitised offered path (how a re-offer is matched), "final"
 * where the file lands under dest (chosen once, at the first accept).
 *
 * Sending side, <data dir>/transfers/out-<id>.json, written when the
 * transfer starts (and when a Spacedrop is accepted), so a restarted
 * sender resumes it:
 *   {"version":1, "transfer_id":..., "device_id":..., "peer_id":...,
 *    "addrs":["/ip4/..."], "spacedrop":true, "message":"...",
 *    "answered":false, "created_ms":...,
 *    "files":[{"src":"<base64 local path>", "path":"<base64 a/b.txt>",
 *              "size":N, "mtime_sec":S, "mtime_nsec":NS, "mode":420,
 *              "dir":false}, ...]}
 * Local paths are base64 because file names need not be UTF-8.
 *
 * And the index of unfinished incoming transfers,
 * <data dir>/transfers/in-<id>.json: {"version":1, "dest":"/abs/dir"}, so
 * a re-offer finds the record of a transfer accepted into another
 * directory (spacedrop accept --to DIR). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

#define TXREC_VERSION 1
/* Largest record read back (100,000 files with long names fit). */
#define TXREC_MAX_SIZE ((size_t)64 << 20)
#define TXREC_ID_HEX 32

struct txrec_file {
	char *path;  /* sanitised offered path; receiver only */
	char *final; /* receiver: where it lands, relative to dest */
	char *src;   /* sender: local absolute path (bytes, NUL-terminated) */
	char *rel;   /* sender: relative path offered, '/'-separated */
	uint64_t size;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t mode;
	bool dir;
	uint64_t durable; /* receiver */
	bool verified;    /* receiver */
};

struct txrec {
	char transfer_id[TXREC_ID_HEX + 1];
	char *peer_id;
	char *device_id; /* "" for an unpaired peer */
	bool spacedrop;
	char *dest;    /* receiver */
	char *message; /* sender, may be NULL */
	bool answered; /* sender: Spacedrop accepted once */
	char **addrs;  /* sender */
	size_t n_addrs;
	int64_t created_ms;
	uint64_t total_bytes;
	struct txrec_file *files;
	size_t n_files;
};

void txrec_clear(struct txrec *r);

/* Receiving side. -EINVAL (r breaks a rule the decoder checks), -ENOMEM. */
int txrec_encode_in(const struct txrec *r, struct buf *out);
/* -EBADMSG with e naming the field; -EPROTONOSUPPORT for another version;
 * -EMSGSIZE over TXREC_MAX_SIZE. *ret written only on success. */
int txrec_decode_in(const uint8_t *data, size_t len, struct txrec *ret, struct errmsg *e);

/* Sending side; same errors. */
int txrec_encode_out(const struct txrec *r, struct buf *out);
int txrec_decode_out(const uint8_t *data, size_t len, struct txrec *ret, struct errmsg *e);

/* The index entry. */
int txrec_encode_index(const char *dest, struct buf *out);
int txrec_decode_index(const uint8_t *data, size_t len, char **ret_dest, struct errmsg *e);

/* A relative path we may create under a directory: non-empty '/'-separated
 * components, none empty, "." or "..", at most 4095 bytes, no NUL. */
bool txrec_safe_relpath(const char *p);
