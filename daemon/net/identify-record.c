/* Our signed peer record and checking a peer's; see identify-record.h. */
#include "identify-record.h"

#include <errno.h>
#include <time.h>

#include "envelope.h"

int identify_record_build(const struct privkey *k, const struct multiaddr *addrs, size_t n,
                          struct buf *out)
{
	/* Peers keep the record with the highest seq; wall-clock milliseconds
	 * (as js uses) survive restarts, and the counter covers two records
	 * built within one millisecond or a clock that stepped back. */
	static uint64_t last_seq;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t seq = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (seq <= last_seq)
		seq = last_seq + 1;

	struct peer_record rec = PEER_RECORD_INIT;
	struct buf pub = BUF_INIT;
	int r = privkey_encode_public(k, &pub);
	if (r == 0)
		r = peerid_from_canonical_pubkey(pub.data, pub.len, &rec.id);
	buf_free(&pub);
	rec.seq = seq;
	for (size_t i = 0; r == 0 && i < n && i < PEER_RECORD_MAX_ADDRS; i++)
		r = peer_record_add_addr(&rec, addrs[i].bytes, addrs[i].len);
	if (r == 0)
		r = peer_record_seal(k, &rec, out);
	peer_record_free(&rec);
	if (r == 0)
		last_seq = seq;
	return r;
}

int identify_record_verify(const uint8_t *env, size_t len, const struct peerid *expected,
                           uint64_t *ret_seq)
{
	struct peer_record rec = PEER_RECORD_INIT;
	struct pubkey *key = NULL;
	/* peer_record_open checks the signature, the domain, the payload type
	 * and that the record's peer ID is the signer's. */
	int r = peer_record_open(env, len, &rec, &key, NULL);
	if (r < 0)
		return r;
	if (!peerid_equal(&rec.id, expected))
		r = -EKEYREJECTED;
	else
		*ret_seq = rec.seq;
	peer_record_free(&rec);
	pubkey_free(key);
	return r;
}
