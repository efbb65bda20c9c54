/* One paired device as we keep it, and its stored record.
 *
 * Both sides of a pairing write one of these (docs/pairing.md): the other
 * device's DeviceInfo as it proved it, the session keys from the pairing,
 * its trust level and what we last knew about reaching it. The record is a
 * JSON object (docs/storage.md, "Paired devices"), encrypted by the secure
 * store as devices/<device_id>:
 *   {"version":1, "device_id":"<uuid>", "name":"...", "os":"...",
 *    "peer_id":"12D3KooW...", "protocol_version":1, "trust":"trusted",
 *    "paired_at":<unix s>, "last_seen":<unix s or 0>,
 *    "addresses":["/ip4/.../tcp/..."], "pairing_id":"<64 hex>",
 *    "keys":{"send":"<64 hex>","receive":..,"send_mac":..,"receive_mac":..}}
 * JSON, like the identity record, because it is small, extensible (a newer
 * "version" is refused rather than half-read) and readable in a decrypted
 * copy when debugging. Unknown keys are ignored.
 *
 * The codec is pure (no I/O) and fuzzed (tests/fuzz/fuzz_device_record.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "errmsg.h"
#include "pairing-msg.h"
#include "pairing-transcript.h"

#define DEVICE_RECORD_VERSION 1
/* Last known addresses we keep per device: enough for every interface of a
 * machine (IPv4, IPv6, a VPN) with room for the ones seen last. */
#define DEVICE_MAX_ADDRS 16
/* Longest address text we keep; longer ones (long DNS names) are dropped. */
#define DEVICE_ADDR_MAX 256
/* Largest record we decode (a full one is under 6 KiB). */
#define DEVICE_RECORD_MAX 16384

/* The seed's trust levels: Trusted auto-connects and may do everything;
 * Verified needs approval for sensitive operations; Expired must pair
 * again; Revoked is never dialed and refused inbound. */
enum device_trust {
	DEVICE_TRUSTED,
	DEVICE_VERIFIED,
	DEVICE_EXPIRED,
	DEVICE_REVOKED,
};

struct device {
	/* device_id, name, os, peer_id, protocol_version, as the device
	 * presented them in the pairing it proved. */
	struct pairing_device_info info;
	enum device_trust trust;
	int64_t paired_at; /* unix seconds */
	int64_t last_seen; /* unix seconds; 0: not since pairing */
	char addrs[DEVICE_MAX_ADDRS][DEVICE_ADDR_MAX];
	size_t n_addrs;
	/* Secret: wipe with device_wipe(). */
	struct pairing_session_keys keys;
	uint8_t pairing_id[PAIRING_HASH_LEN];
};

const char *device_trust_name(enum device_trust t);
/* -EINVAL for an unknown name. */
int device_trust_parse(const char *name, enum device_trust *ret);

/* Add an address (multiaddr text) as the most recent one: a known address
 * moves to the front; at DEVICE_MAX_ADDRS the oldest goes. Text over
 * DEVICE_ADDR_MAX is ignored. */
void device_add_addr(struct device *d, const char *addr);
/* The same most-recent-first rule on any list of n of at most max entries
 * (persist keeps the addresses that worked this way). */
void addr_list_add(char (*list)[DEVICE_ADDR_MAX], size_t *n, size_t max, const char *addr);

/* JSON of secrets for the stored records (device and connection records):
 * lower-case hex with the stack copy wiped, and the four session keys as
 * {"send","receive","send_mac","receive_mac"}. NULL on allocation failure
 * (json_pack then fails too). */
json_t *secret_hex_json(const uint8_t *p, size_t len);
json_t *session_keys_json(const struct pairing_session_keys *k);
/* Overwrite every string in o and its nested objects (jansson keeps the
 * hex of keys in its own heap) before it is freed. */
void secret_json_wipe(json_t *o);
/* Append o as compact sorted JSON to out, then wipe and free o and the
 * text. o NULL (a failed json_pack) or no memory: -ENOMEM. */
int secret_json_dump(json_t *o, struct buf *out);

/* Encode (out holds secrets: use a _cleanup_secret_buf_). -EINVAL if d
 * breaks a rule the decoder checks; -ENOMEM. */
int device_record_encode(const struct device *d, struct buf *out);
/* Decode and check; *ret written only on success. -EBADMSG with err naming
 * the field; -EPROTONOSUPPORT for a newer version; -EMSGSIZE over
 * DEVICE_RECORD_MAX. */
int device_record_decode(const uint8_t *data, size_t len, struct device *ret, struct errmsg *err);

void device_wipe(struct device *d);
