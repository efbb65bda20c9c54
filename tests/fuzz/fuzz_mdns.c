/* Fuzz the mDNS logic with hostile datagrams. The first byte picks options
 * (engine role, loopback); the rest is a sequence of datagrams, each
 * <u16 length><u16 source port><bytes>. Each datagram goes through the
 * record parsers directly and through an engine at advancing times. The
 * engine must stay within its caps: every datagram it emits parses as DNS
 * and fits MDNS_MAX_PACKET, events carry at most MDNS_MAX_ADDRS_PER_PEER
 * addresses, the cache never exceeds its size, and every peer reported by
 * the parsers has a usable address and is not us, and every device name
 * kept ("sd-name=") passes mdns_device_name_valid. Option bit 16 makes the
 * engine advertise a device name of its own. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "mdns.h"

#define CACHE_SIZE 4

static void check_response(const struct mdns_response *r, const struct peerid *self, bool loopback)
{
	assert(r->n <= MDNS_MAX_PEERS_PER_PACKET);
	for (size_t i = 0; i < r->n; i++) {
		const struct mdns_found *f = &r->peers[i];
		assert(!peerid_equal(&f->id, self));
		assert(f->n_addrs > 0 && f->n_addrs <= MDNS_MAX_ADDRS_PER_PEER);
		assert(f->ptr_ttl_s <= MDNS_MAX_TTL_S);
		assert(!f->device_name[0] ||
		       mdns_device_name_valid(f->device_name, strlen(f->device_name)));
		for (size_t j = 0; j < f->n_addrs; j++) {
			assert(mdns_addr_usable(&f->addrs[j].ma, loopback));
			assert(f->addrs[j].ttl_s <= MDNS_MAX_TTL_S);
		}
	}
}

static void parse_direct(const uint8_t *pkt, size_t len, const struct peerid *self, bool loopback)
{
	struct dns_msg m;
	if (dns_parse(pkt, len, &m, NULL) < 0)
		return;
	for (int svc = MDNS_P2P; svc <= MDNS_PAIR; svc++) {
		struct mdns_parse_opts o = {.svc = (enum mdns_service)svc,
		                            .self_id = self,
		                            .self_name = "selfname",
		                            .allow_loopback = loopback};
		struct mdns_response r;
		struct errmsg e = {{0}};
		int rc = mdns_parse_response(&m, &o, &r, &e);
		assert(rc == 0 || rc == -EBADMSG || rc == -ENOMEM);
		if (rc == -EBADMSG)
			assert(r.n == 0 && r.rejected_peers > 0 && e.text[0]);
		check_response(&r, self, loopback);
		mdns_response_free(&r);
	}
	struct mdns_query_info q;
	mdns_classify_query(&m, "selfname", MDNS_PORT, MDNS_TTL_S, &q);
	assert(!q.want || q.question);
	dns_msg_free(&m);
}

static void drain(struct mdns *m)
{
	struct mdns_output o;
	struct mdns_event ev;
	while (mdns_next_output(m, &o) == 1) {
		struct dns_msg dm;
		assert(o.data.len <= MDNS_MAX_PACKET);
		assert(dns_parse(o.data.data, o.data.len, &dm, NULL) == 0);
		dns_msg_free(&dm);
		buf_free(&o.data);
	}
	while (mdns_next_event(m, &ev) == 1) {
		assert(ev.n_addrs <= MDNS_MAX_ADDRS_PER_PEER);
		assert(ev.type == MDNS_EV_PEER_EXPIRED ? ev.n_addrs == 0 : ev.n_addrs > 0);
		mdns_event_free(&ev);
	}
	const struct mdns_cache *c = mdns_cache_of(m);
	assert(c->n <= CACHE_SIZE);
	for (size_t i = 0; i < c->n; i++)
		assert(!c->entries[i].device_name[0] ||
		       mdns_device_name_valid(c->entries[i].device_name,
		                              strlen(c->entries[i].device_name)));
}

static struct mdns *make(uint8_t opts)
{
	static const uint8_t rv[MDNS_RENDEZVOUS_LEN] = {0};
	struct mdns_config cfg = {
	        .max_peers = CACHE_SIZE, .allow_loopback = opts & 1, .dns_sd = opts & 2};
	struct mdns *m;
	struct multiaddr a;
	assert(peerid_parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", &cfg.self,
	                    NULL) == 0);
	memcpy(cfg.name_seed, "selfnameselfnameselfnameselfname", MDNS_PEER_NAME_LEN);
	assert(mdns_new(&cfg, &m) == 0);
	assert(multiaddr_parse("/ip4/10.0.0.1/tcp/4001", &a, NULL) == 0);
	mdns_set_addrs(m, &a, 1, 0);
	multiaddr_free(&a);
	if (opts & 16)
		assert(mdns_set_device_name(m, "Fuzz \xf0\x9f\x90\x9b", 0) == 1);
	mdns_start(m, 0);
	if (opts & 4)
		mdns_pair_advertise(m, rv, 0);
	if (opts & 8)
		mdns_pair_seek(m, rv, 0);
	drain(m);
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	struct mdns *m = make(data[0]);
	struct peerid self;
	assert(peerid_parse("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA", &self, NULL) ==
	       0);
	uint64_t now = 0;
	size_t off = 1;
	while (size - off >= 4) {
		size_t len = (size_t)data[off] << 8 | data[off + 1];
		uint16_t port = (uint16_t)(data[off + 2] << 8 | data[off + 3]);
		off += 4;
		if (len > size - off)
			len = size - off;
		parse_direct(data + off, len, &self, data[0] & 1);
		struct errmsg e = {{0}};
		int r = mdns_handle_packet(m, data + off, len, port, now, &e);
		assert(r == 0 || r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
		assert(r == 0 || e.text[0]);
		drain(m);
		off += len;
		/* Time moves by an input-chosen step, so expiry runs too. */
		now += (uint64_t)(port & 0xff) * 1000;
		assert(mdns_handle_timeout(m, now) == 0);
		assert(mdns_next_timeout(m) > now);
		drain(m);
	}
	mdns_free(m);
	return 0;
}
