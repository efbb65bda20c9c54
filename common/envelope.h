/* Signed envelopes (libp2p RFC 0002) and peer records (RFC 0003).
 *
 * An envelope carries a payload signed by an identity key under a domain
 * string that never travels: the signature covers
 *   uvarint(len(domain)) || domain || uvarint(len(type)) || type ||
 *   uvarint(len(payload)) || payload
 * so a signature made for one purpose cannot be replayed for another. The
 * signature is checked over the bytes as received, before the payload is
 * parsed.
 *
 * A peer record (domain "libp2p-peer-record", payload type the raw bytes
 * 03 01) lists a peer's addresses with a sequence number; peer_record_open()
 * also checks that the record's peer ID is the signer's.
 *
 * Errors: -EMSGSIZE over a size cap, -EBADMSG malformed bytes,
 * -EPROTONOSUPPORT unknown key type, -EKEYREJECTED bad signature (or a weak
 * key, or a peer record whose peer ID is not the signer's), -ENOMSG a payload
 * type other than the expected one, -EINVAL bad arguments, -ENOMEM, -EIO.
 * Functions taking a struct errmsg * (may be NULL) say what failed. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"
#include "keys.h"
#include "peerid.h"

/* Largest envelope we open or make: identify (which carries the signed peer
 * record) is read with an 8 KiB cap by go and JS, so nothing larger could
 * travel anyway. */
#define ENVELOPE_MAX_SIZE 8192
/* Domains are short constants ("libp2p-peer-record", "libp2p-relay-rsvp"). */
#define ENVELOPE_DOMAIN_MAX 256
#define ENVELOPE_PAYLOAD_TYPE_MAX 64

#define PEER_RECORD_DOMAIN "libp2p-peer-record"
/* Multicodec 0x0301 as two plain big-endian bytes, not a varint. */
#define PEER_RECORD_PAYLOAD_TYPE ((const uint8_t *)"\x03\x01")
#define PEER_RECORD_PAYLOAD_TYPE_LEN 2
/* Most addresses we keep from one record; more is refused, not truncated,
 * since a truncated signed record would not be the one that was signed. */
#define PEER_RECORD_MAX_ADDRS 256
/* Longest single multiaddr in a record (same cap as multiaddr.h). */
#define PEER_RECORD_ADDR_MAX 1024

/* Sign payload under domain with our key; appends the Envelope protobuf to
 * out. */
int envelope_seal(const struct privkey *k, const char *domain, const uint8_t *payload_type,
                  size_t type_len, const uint8_t *payload, size_t payload_len, struct buf *out);

/* An opened envelope: the verified signer and copies of the payload type and
 * payload. */
struct envelope {
	struct pubkey *key;
	struct buf payload_type;
	struct buf payload;
};

/* Parse and verify an Envelope for domain. With expected_type non-NULL the
 * payload type must equal it (-ENOMSG otherwise, checked after the
 * signature). On success *ret owns its fields: envelope_free() them. */
int envelope_open(const uint8_t *data, size_t len, const char *domain, const uint8_t *expected_type,
                  size_t expected_type_len, struct envelope *ret, struct errmsg *err);
void envelope_free(struct envelope *e);

struct peer_record {
	struct peerid id;
	uint64_t seq;
	/* Raw binary multiaddrs as carried on the wire; the caller validates
	 * them with multiaddr_from_bytes() and skips the ones it cannot use. */
	struct buf *addrs;
	size_t n_addrs;
};

#define PEER_RECORD_INIT ((struct peer_record){.addrs = NULL, .n_addrs = 0})

/* Append a copy of one binary multiaddr. */
int peer_record_add_addr(struct peer_record *r, const uint8_t *ma, size_t len);
void peer_record_free(struct peer_record *r);
/* The PeerRecord protobuf (appended to out). */
int peer_record_encode(const struct peer_record *r, struct buf *out);
/* Parse a PeerRecord protobuf; the peer ID must be a valid multihash. */
int peer_record_decode(const uint8_t *data, size_t len, struct peer_record *ret,
                       struct errmsg *err);
/* Encode and seal with PEER_RECORD_DOMAIN / PEER_RECORD_PAYLOAD_TYPE. The
 * record's id must be the one derived from k (else -EINVAL). */
int peer_record_seal(const struct privkey *k, const struct peer_record *r, struct buf *out);
/* Open a sealed peer record: verify the envelope, decode the record and check
 * that its peer ID is the signer's. key_ret (may be NULL) receives the signer
 * (caller frees). */
int peer_record_open(const uint8_t *data, size_t len, struct peer_record *ret,
                     struct pubkey **key_ret, struct errmsg *err);
