/* mDNS records for libp2p discovery and sdnetd pairing: our query, our
 * responses, reading peers out of others' responses, and what a query asks.
 * See mdns.h for the rules and docs/protocols/mdns.md for the reasoning.
 *
 * Interop constraints that shape this file (from js-libp2p's @libp2p/mdns
 * 11 and rust-libp2p, checklist section 14):
 *   - js answers only when the *first* question is "_p2p._udp.local", reads
 *     only the *last* PTR of a packet and takes the TXT records of the whole
 *     packet, whatever their owner; so a packet we send carries exactly one
 *     PTR and only its own peer's TXT records, and every split packet
 *     repeats the PTR.
 *   - rust reads TXT records only from the additional section, so ours go
 *     there; js sends them as answers, so we read both sections.
 *   - names compare case-insensitively, but js compares "_p2p._udp.local"
 *     exactly, so we always send it in lower case. */
#include "mdns.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

static const char *service_text(enum mdns_service svc)
{
	return svc == MDNS_PAIR ? MDNS_SERVICE_PAIR : MDNS_SERVICE_P2P;
}

static void service_name(enum mdns_service svc, struct dns_name *ret)
{
	/* Constant names always convert. */
	(void)dns_name_from_text(service_text(svc), ret);
}

void mdns_peer_name_from_seed(const uint8_t seed[MDNS_PEER_NAME_LEN],
                              char out[MDNS_PEER_NAME_LEN + 1])
{
	static const char charset[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	for (size_t i = 0; i < MDNS_PEER_NAME_LEN; i++)
		out[i] = charset[seed[i] % (sizeof(charset) - 1)];
	out[MDNS_PEER_NAME_LEN] = '\0';
}

int mdns_build_query(enum mdns_service svc, struct buf *out)
{
	struct dns_builder b;
	struct dns_question q = {.type = DNS_TYPE_PTR, .qclass = DNS_CLASS_IN};
	service_name(svc, &q.name);
	int r = dns_builder_init(&b, out, MDNS_MAX_PACKET, true, 0, 0);
	if (r < 0)
		return r;
	r = dns_builder_add_question(&b, &q);
	if (r < 0) {
		dns_builder_abort(&b);
		return r;
	}
	dns_builder_finish(&b);
	return 0;
}

static bool is_loopback(int family, const uint8_t *a)
{
	static const uint8_t v6_loop[16] = {[15] = 1};
	return family == AF_INET ? a[0] == 127 : memcmp(a, v6_loop, 16) == 0;
}

/* Addresses nobody can dial: 0.0.0.0, ::, and IPv6 link-local (a
 * multiaddr cannot carry the zone it needs). */
static bool is_undialable(int family, const uint8_t *a)
{
	static const uint8_t zero[16] = {0};
	if (family == AF_INET)
		return memcmp(a, zero, 4) == 0;
	return memcmp(a, zero, 16) == 0 || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

bool mdns_addr_usable(const struct multiaddr *ma, bool allow_loopback)
{
	int family;
	const uint8_t *a;
	uint16_t port;
	if (multiaddr_as_tcp(ma, &family, &a, &port) < 0 &&
	    multiaddr_as_quic(ma, &family, &a, &port) < 0)
		return false;
	if (port == 0 || is_undialable(family, a))
		return false;
	return allow_loopback || !is_loopback(family, a);
}

/* ---- building ---- */

void mdns_packets_free(struct mdns_packets *p)
{
	for (size_t i = 0; i < p->n; i++)
		buf_free(&p->pkt[i]);
	p->n = 0;
}

/* "dnsaddr=<addr>/p2p/<id>" as TXT rdata; -EMSGSIZE over 255 bytes. */
static int dnsaddr_rdata(const struct multiaddr *addr, const struct peerid *id, struct buf *rd)
{
	struct multiaddr ma;
	char text[MULTIADDR_TEXT_MAX + sizeof(MDNS_TXT_DNSADDR)];
	int r = multiaddr_copy(addr, &ma);
	if (r < 0)
		return r;
	multiaddr_strip_p2p(&ma);
	r = multiaddr_append_p2p(&ma, id);
	if (r >= 0)
		r = multiaddr_to_string(&ma, text + strlen(MDNS_TXT_DNSADDR),
		                        sizeof(text) - strlen(MDNS_TXT_DNSADDR));
	multiaddr_free(&ma);
	if (r < 0)
		return r;
	memcpy(text, MDNS_TXT_DNSADDR, strlen(MDNS_TXT_DNSADDR));
	return dns_txt_append(rd, text, strlen(MDNS_TXT_DNSADDR) + (size_t)r);
}

static int rv_rdata(const uint8_t *rv, struct buf *rd)
{
	char text[sizeof(MDNS_TXT_RENDEZVOUS) + 2 * MDNS_RENDEZVOUS_LEN];
	memcpy(text, MDNS_TXT_RENDEZVOUS, strlen(MDNS_TXT_RENDEZVOUS));
	hex_encode(rv, MDNS_RENDEZVOUS_LEN, text + strlen(MDNS_TXT_RENDEZVOUS));
	return dns_txt_append(rd, text, strlen(text));
}

/* Everything one response needs, prepared once for all its packets. */
struct resp_plan {
	const struct mdns_self *self;
	struct dns_name svc, inst, host;
	struct buf txt[MDNS_MAX_ADDRS];
	size_t n_txt;
	struct buf rv;
	struct buf name;                              /* "sd-name=" TXT rdata; empty: none */
	struct dns_rr extra[1 + MDNS_MAX_HOST_ADDRS]; /* SRV, then A/AAAA */
	size_t n_extra;
};

static void plan_free(struct resp_plan *p)
{
	for (size_t i = 0; i < p->n_txt; i++)
		buf_free(&p->txt[i]);
	buf_free(&p->rv);
	buf_free(&p->name);
}

static struct dns_rr rr_base(const struct dns_name *name, uint16_t type, uint32_t ttl)
{
	struct dns_rr rr;
	memset(&rr, 0, sizeof(rr));
	rr.name = *name;
	rr.type = type;
	rr.rclass = DNS_CLASS_IN;
	rr.ttl = ttl;
	return rr;
}

static bool host_known(const struct resp_plan *p, int family, const uint8_t *a)
{
	for (size_t i = 1; i < p->n_extra; i++) {
		const struct dns_rr *rr = &p->extra[i];
		if (family == AF_INET && rr->type == DNS_TYPE_A && !memcmp(rr->a, a, 4))
			return true;
		if (family == AF_INET6 && rr->type == DNS_TYPE_AAAA && !memcmp(rr->aaaa, a, 16))
			return true;
	}
	return false;
}

/* DNS-SD: SRV to <peer-name>.local with the first address's port, and the
 * distinct IPs as A/AAAA for that host. */
static void plan_dns_sd(struct resp_plan *p)
{
	const struct mdns_self *s = p->self;
	for (size_t i = 0; i < s->n_addrs && p->n_extra < 1 + MDNS_MAX_HOST_ADDRS; i++) {
		int family;
		const uint8_t *a;
		uint16_t port;
		if (multiaddr_as_tcp(&s->addrs[i], &family, &a, &port) < 0 &&
		    multiaddr_as_quic(&s->addrs[i], &family, &a, &port) < 0)
			continue;
		if (p->n_extra == 0) {
			p->extra[0] = rr_base(&p->inst, DNS_TYPE_SRV, s->ttl_s);
			p->extra[0].srv.port = port;
			p->extra[0].srv.target = p->host;
			p->n_extra = 1;
		}
		if (host_known(p, family, a))
			continue;
		struct dns_rr *rr = &p->extra[p->n_extra++];
		*rr = rr_base(&p->host, family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA, s->ttl_s);
		memcpy(family == AF_INET ? rr->a : rr->aaaa, a, family == AF_INET ? 4 : 16);
	}
}

static int plan_init(struct resp_plan *p, const struct mdns_self *s, struct mdns_packets *out,
                     struct errmsg *err)
{
	struct dns_name local;
	size_t nlen = s->peer_name ? strlen(s->peer_name) : 0;
	memset(p, 0, sizeof(*p));
	p->self = s;
	service_name(s->svc, &p->svc);
	(void)dns_name_from_text("local", &local);
	if (dns_name_prepend(&p->svc, s->peer_name ? s->peer_name : "", nlen, &p->inst) < 0 ||
	    dns_name_prepend(&local, s->peer_name ? s->peer_name : "", nlen, &p->host) < 0)
		return errmsg_set(err, -EINVAL, "mdns: bad peer name");
	if (s->svc == MDNS_PAIR) {
		if (!s->rendezvous)
			return errmsg_set(err, -EINVAL,
			                  "mdns: pairing response without rendezvous");
		if (rv_rdata(s->rendezvous, &p->rv) < 0)
			return -ENOMEM;
	}
	/* An unusable name is left out rather than failing discovery. */
	if (s->svc == MDNS_P2P && s->device_name &&
	    mdns_device_name_rdata(s->device_name, &p->name) == -ENOMEM)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_addrs && p->n_txt < MDNS_MAX_ADDRS; i++) {
		int r = dnsaddr_rdata(&s->addrs[i], s->id, &p->txt[p->n_txt]);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			buf_free(&p->txt[p->n_txt]);
			out->skipped_addrs++;
			continue;
		}
		p->n_txt++;
	}
	out->skipped_addrs +=
	        s->n_addrs - (s->n_addrs < MDNS_MAX_ADDRS ? s->n_addrs : MDNS_MAX_ADDRS);
	if (s->svc == MDNS_P2P && s->dns_sd)
		plan_dns_sd(p);
	return 0;
}

static int add_txt(struct dns_builder *b, const struct resp_plan *p, const struct buf *rd,
                   uint32_t ttl)
{
	struct dns_rr rr = rr_base(&p->inst, DNS_TYPE_TXT, ttl);
	rr.raw.data = rd->data;
	rr.raw.len = (uint16_t)rd->len;
	return dns_builder_add_rr(b, DNS_SECTION_ADDITIONAL, &rr);
}

/* The part every packet repeats: echoed question, PTR, rv or the device
 * name (each packet must stand alone). */
static int packet_head(struct dns_builder *b, const struct resp_plan *p)
{
	const struct mdns_self *s = p->self;
	struct dns_rr ptr = rr_base(&p->svc, DNS_TYPE_PTR, s->ttl_s);
	ptr.ptr = p->inst;
	int r = 0;
	if (s->echo_question)
		r = dns_builder_add_question(b, s->echo_question);
	if (r == 0)
		r = dns_builder_add_rr(b, DNS_SECTION_ANSWER, &ptr);
	if (r == 0 && s->svc == MDNS_PAIR)
		r = add_txt(b, p, &p->rv, s->ttl_s);
	if (r == 0 && p->name.len)
		r = add_txt(b, p, &p->name, s->ttl_s);
	return r;
}

/* All of SRV/A/AAAA or none: a partial set would only confuse. */
static int add_extras(struct dns_builder *b, const struct resp_plan *p, bool *pending)
{
	struct dns_builder_mark mark;
	int r = 0;
	dns_builder_mark(b, &mark);
	for (size_t i = 0; i < p->n_extra && r == 0; i++)
		r = dns_builder_add_rr(b, DNS_SECTION_ADDITIONAL, &p->extra[i]);
	if (r == -EMSGSIZE) {
		dns_builder_rollback(b, &mark);
		return 0; /* try the next packet */
	}
	if (r == 0)
		*pending = false;
	return r;
}

/* Fill one packet from TXT record *next on; returns how many went in. */
static int packet_fill(struct dns_builder *b, const struct resp_plan *p, size_t *next,
                       bool *extra_pending)
{
	uint32_t ttl = p->self->addrs_goodbye ? 0 : p->self->ttl_s;
	size_t before = *next;
	int r = 0;
	while (*next < p->n_txt && (r = add_txt(b, p, &p->txt[*next], ttl)) == 0)
		(*next)++;
	if (r < 0 && r != -EMSGSIZE)
		return r;
	if (*next > before && *extra_pending && (r = add_extras(b, p, extra_pending)) < 0)
		return r;
	return (int)(*next - before);
}

/* SRV/A/AAAA that fit beside no TXT record get a packet of their own
 * (js ignores a packet without TXT records; so do we). */
static int extras_packet(const struct resp_plan *p, uint16_t id, struct mdns_packets *out)
{
	struct buf *pkt = &out->pkt[out->n];
	struct dns_builder b;
	bool pending = true;
	*pkt = BUF_INIT;
	int r = dns_builder_init(&b, pkt, MDNS_MAX_PACKET, true, id, DNS_FLAG_QR | DNS_FLAG_AA);
	if (r == 0)
		r = packet_head(&b, p);
	if (r == 0)
		r = add_extras(&b, p, &pending);
	if (r < 0 || pending) {
		buf_free(pkt);
		return r;
	}
	dns_builder_finish(&b);
	out->n++;
	return 0;
}

static int build_packets(const struct resp_plan *p, struct mdns_packets *out)
{
	const struct mdns_self *s = p->self;
	uint16_t id = s->echo_question ? s->echo_id : 0;
	bool extra_pending = p->n_extra > 0;
	size_t next = 0;
	while (next < p->n_txt && out->n < MDNS_MAX_RESPONSE_PACKETS) {
		struct buf *pkt = &out->pkt[out->n];
		struct dns_builder b;
		*pkt = BUF_INIT;
		int r = dns_builder_init(&b, pkt, MDNS_MAX_PACKET, true, id,
		                         DNS_FLAG_QR | DNS_FLAG_AA);
		if (r == 0)
			r = packet_head(&b, p);
		if (r == 0)
			r = packet_fill(&b, p, &next, &extra_pending);
		if (r <= 0)
			buf_free(pkt);
		if (r < 0)
			return r;
		if (r == 0) {
			/* A record that fits no packet: impossible within our
			 * caps, but never loop on it. */
			next++;
			out->skipped_addrs++;
			continue;
		}
		dns_builder_finish(&b);
		out->n++;
	}
	out->skipped_addrs += p->n_txt - next;
	if (extra_pending && next > 0 && out->n < MDNS_MAX_RESPONSE_PACKETS)
		return extras_packet(p, id, out);
	return 0;
}

int mdns_build_response(const struct mdns_self *self, struct mdns_packets *ret, struct errmsg *err)
{
	struct resp_plan *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	int r = plan_init(p, self, ret, err);
	if (r == 0)
		r = build_packets(p, ret);
	plan_free(p);
	free(p);
	return r;
}

int mdns_build_meta_response(uint32_t ttl_s, struct buf *out)
{
	struct dns_name meta;
	struct dns_builder b;
	(void)dns_name_from_text(MDNS_SERVICE_META, &meta);
	struct dns_rr rr = rr_base(&meta, DNS_TYPE_PTR, ttl_s);
	service_name(MDNS_P2P, &rr.ptr);
	int r = dns_builder_init(&b, out, MDNS_MAX_PACKET, true, 0, DNS_FLAG_QR | DNS_FLAG_AA);
	if (r < 0)
		return r;
	r = dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &rr);
	if (r < 0) {
		dns_builder_abort(&b);
		return r;
	}
	dns_builder_finish(&b);
	return 0;
}
