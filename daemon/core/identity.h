/* The node's identity: its libp2p key, device UUID and device name.
 *
 * Kept in the secure store as one record (namespace "", name "identity"),
 * a JSON object, UTF-8:
 *   {"version":1,
 *    "private_key":"<hex of the libp2p PrivateKey protobuf (Ed25519)>",
 *    "device_id":"<UUID v4, lower case>",
 *    "device_name":"<1..64 bytes>"}
 * JSON because the record is small, extensible (unknown keys are kept out
 * of the way by "version") and readable when debugging a decrypted copy. The
 * peer ID is derived from the key, never stored, so the two cannot disagree.
 * See docs/operations.md. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "devname.h"
#include "errmsg.h"
#include "keys.h"
#include "peerid.h"

struct securestore;

#define IDENTITY_RECORD "identity"
#define IDENTITY_VERSION 1
#define IDENTITY_UUID_LEN 36
/* Largest record we decode (a real one is ~250 bytes). */
#define IDENTITY_RECORD_MAX 4096

struct identity {
	struct privkey key; /* secret; identity_wipe() clears it */
	struct peerid peer;
	char peer_id[PEERID_TEXT_MAX];
	char device_id[IDENTITY_UUID_LEN + 1];
	char device_name[DEVNAME_MAX + 1];
};

/* A new identity: fresh key, random UUID v4, the given name. */
int identity_generate(const char *device_name, struct identity *ret);
void identity_wipe(struct identity *id);

/* The record codec (pure; fuzzed). Encoding holds the secret key: the
 * caller wipes out (buf_wipe_free). Decode errors are -EBADMSG with err
 * naming the field; -EPROTONOSUPPORT for a newer version. */
int identity_encode(const struct identity *id, struct buf *out);
int identity_decode(const uint8_t *data, size_t len, struct identity *ret, struct errmsg *err);

/* Read the identity from the store; when there is none, make one named
 * default_name and save it (*ret_created true). Never overwrites an
 * existing record, however broken: a corrupt or undecodable record is an
 * error (-EBADMSG, err names the file and what to do). */
int identity_load_or_create(struct securestore *s, const char *default_name, struct identity *ret,
                            bool *ret_created, struct errmsg *err);
/* Change the name and save; id is unchanged if anything fails. */
int identity_set_name(struct securestore *s, struct identity *id, const char *name,
                      struct errmsg *err);
int identity_save(struct securestore *s, const struct identity *id, struct errmsg *err);
