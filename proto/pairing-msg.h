/* Wire messages of /spacedrive/pairing/1.0.0 and the DeviceInfo record
 * (schema: proto/schema/pairing.proto; design: docs/pairing.md).
 *
 * Every frame is uvarint(length) || PairingMessage, at most
 * PAIRING_MAX_MESSAGE bytes of protobuf. Decoding checks every field a
 * message needs, with its exact size, and copies it out, so nothing points
 * into the peer's bytes afterwards. Unknown fields are ignored (a later
 * version may add some; the version number says what changed).
 *
 * Errors, with a struct errmsg (may be NULL) naming the message and field:
 *   -EBADMSG          not a protobuf, no message set, a field missing or of
 *                     the wrong size, a DeviceInfo that breaks its rules
 *   -EPROTONOSUPPORT  a Hello of another protocol version
 *   -EMSGSIZE         something to encode is over its cap
 *   -ENOMEM */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"
#include "pairing-code.h"
#include "pairing-transcript.h"
#include "peerid.h"

#define PAIRING_VERSION 1
/* Largest PairingMessage protobuf we send or accept: two DeviceInfo records
 * never travel together, so one record plus 3 x 32 bytes and tags fits. */
#define PAIRING_MAX_MESSAGE 1024
/* Largest encoded DeviceInfo (the caps below plus tags and lengths fit). */
#define PAIRING_DEVICE_INFO_MAX 512
/* DeviceInfo field caps, in bytes of UTF-8. */
#define PAIRING_DEVICE_ID_LEN 36 /* canonical lower-case UUID */
#define PAIRING_NAME_MAX 128
#define PAIRING_OS_MAX 64

/* A device as it introduces itself. Strings are NUL-terminated UTF-8
 * without control characters; name and os are non-empty. */
struct pairing_device_info {
	char device_id[PAIRING_DEVICE_ID_LEN + 1];
	char name[PAIRING_NAME_MAX + 1];
	char os[PAIRING_OS_MAX + 1];
	struct peerid peer_id;
	uint32_t protocol_version; /* the device's protocol version, non-zero */
};

/* Result codes; 0 is success. The joiner maps them to errno values with
 * pairing_status_errno() and to text with pairing_status_text(). */
enum pairing_status {
	PAIRING_STATUS_OK = 0,
	PAIRING_STATUS_PROTOCOL_ERROR = 1,
	PAIRING_STATUS_UNSUPPORTED_VERSION = 2,
	PAIRING_STATUS_UNKNOWN_CODE = 3,
	PAIRING_STATUS_CODE_USED = 4,
	PAIRING_STATUS_EXPIRED = 5,
	PAIRING_STATUS_CANCELLED = 6,
	PAIRING_STATUS_RATE_LIMITED = 7,
	PAIRING_STATUS_BAD_PROOF = 8,
	PAIRING_STATUS_BAD_DEVICE_INFO = 9,
};

enum pairing_msg_type {
	PAIRING_MSG_HELLO = 1,
	PAIRING_MSG_CHALLENGE = 2,
	PAIRING_MSG_PROOF = 3,
	PAIRING_MSG_RESULT = 4,
};

/* One decoded (or to-be-encoded) message; which fields matter depends on
 * type: Hello {version, rendezvous_id, nonce, eph, info}, Challenge {nonce,
 * eph, info, mac}, Proof {mac}, Result {code}. */
struct pairing_msg {
	enum pairing_msg_type type;
	uint32_t version;
	uint8_t rendezvous_id[PAIRING_RENDEZVOUS_LEN];
	uint8_t nonce[PAIRING_NONCE_LEN];
	uint8_t eph[X25519_KEY_LEN];
	uint8_t mac[PAIRING_MAC_LEN];
	uint8_t info[PAIRING_DEVICE_INFO_MAX];
	size_t info_len;
	uint32_t code;
};

const char *pairing_msg_name(enum pairing_msg_type t);
/* Decode one PairingMessage protobuf (the payload of a frame). */
int pairing_msg_decode(const uint8_t *data, size_t len, struct pairing_msg *ret,
                       struct errmsg *err);
/* Append uvarint(length) || PairingMessage to out (unchanged on error). */
int pairing_msg_append(const struct pairing_msg *m, struct buf *out);

/* Check a record against the rules above (used for ours, before sending). */
int pairing_device_info_check(const struct pairing_device_info *d, struct errmsg *err);
/* Append the DeviceInfo protobuf (at most PAIRING_DEVICE_INFO_MAX bytes). */
int pairing_device_info_encode(const struct pairing_device_info *d, struct buf *out);
/* Decode and check a peer's record. *ret is written only on success. */
int pairing_device_info_decode(const uint8_t *data, size_t len, struct pairing_device_info *ret,
                               struct errmsg *err);

const char *pairing_status_text(uint32_t code);
/* The errno a joiner reports for a refusal: -EPROTO, -EPROTONOSUPPORT,
 * -ENOKEY (unknown code), -EALREADY (code used), -ETIME (expired),
 * -ECANCELED, -EAGAIN (rate limited), -EACCES (bad proof), -EPERM (bad
 * DeviceInfo); -ECONNREFUSED for codes we do not know. 0 for OK. */
int pairing_status_errno(uint32_t code);
