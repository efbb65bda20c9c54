/* Our signed peer record for identify field 8, and checking a peer's
 * (RFC 0002/0003; checklist 15): envelope domain "libp2p-peer-record",
 * payload type 03 01, PeerRecord{peer_id, seq, addresses}. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "keys.h"
#include "multiaddr.h"
#include "peerid.h"

/* Seal a record of addrs. seq is Unix time in milliseconds, kept strictly
 * increasing within the process, so a newer record always wins. */
int identify_record_build(const struct privkey *k, const struct multiaddr *addrs, size_t n,
                          struct buf *out);
/* Open env: signature valid for the domain, payload type 03 01, and the
 * record's peer ID equal to both the envelope key's and expected. */
int identify_record_verify(const uint8_t *env, size_t len, const struct peerid *expected,
                           uint64_t *ret_seq);
