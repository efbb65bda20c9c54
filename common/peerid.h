/* Peer IDs (peer-ids.md).
 *
 * A peer ID is the multihash of the canonical PublicKey protobuf: identity
 * multihash when that encoding is at most 42 bytes, sha2-256 otherwise.
 * Binary form = the multihash bytes. Text forms: base58btc (the default, e.g.
 * 12D3KooW...) and CIDv1 with codec libp2p-key (0x72) in multibase; both are
 * parsed, base58btc is printed. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "errmsg.h"

/* Longest binary peer ID we handle (identity multihash of a 42-byte key is
 * 44 bytes; sha2-256 is 34). */
#define PEERID_MAX_LEN 64
/* Longest text form (base58 of 64 bytes < 90; CID base32 < 110). */
#define PEERID_TEXT_MAX 128

struct peerid {
	uint8_t len;
	uint8_t bytes[PEERID_MAX_LEN];
};

/* Derive from a PublicKey protobuf (re-encoded canonically first). Errors
 * from pubkey_decode (-EBADMSG, -EPROTONOSUPPORT), -EMSGSIZE over
 * PUBKEY_MAX_ENCODED, -ENOMEM, -EIO. */
int peerid_from_pubkey_proto(const uint8_t *pb, size_t len, struct peerid *ret);
/* Derive from PublicKey bytes already in canonical form (our own key, from
 * privkey_encode_public): identity if at most 42 bytes, else sha2-256. */
int peerid_from_canonical_pubkey(const uint8_t *enc, size_t len, struct peerid *ret);
/* Validate binary multihash bytes as a peer ID (identity with a 1..42-byte
 * inline key, or sha2-256). -EBADMSG malformed, -EPROTONOSUPPORT other hash
 * codes, -EMSGSIZE too long. */
int peerid_from_bytes(const uint8_t *data, size_t len, struct peerid *ret);
/* Parse base58btc or multibase CIDv1 libp2p-key text. -EINVAL bad text
 * (errmsg names the bad character and its 1-based position), -EBADMSG bad
 * multihash/CID bytes, -EPROTONOSUPPORT wrong hash code, CID codec or
 * multibase, -EMSGSIZE text of PEERID_TEXT_MAX or more characters. */
int peerid_parse(const char *text, struct peerid *ret, struct errmsg *err);
/* Print base58btc into out (at least PEERID_TEXT_MAX bytes). Both printers
 * return the text length, -ENOBUFS if out is too small, -EINVAL for an
 * empty id. */
int peerid_to_string(const struct peerid *id, char *out, size_t out_len);
/* Print the CIDv1 base32 form ("bafz..."). */
int peerid_to_cid_string(const struct peerid *id, char *out, size_t out_len);
bool peerid_equal(const struct peerid *a, const struct peerid *b);
/* For identity peer IDs: the embedded PublicKey protobuf bytes (a view into
 * id), or -ENOKEY for sha2-256 IDs. */
int peerid_embedded_pubkey(const struct peerid *id, const uint8_t **ret, size_t *ret_len);
