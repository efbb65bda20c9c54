/* Reading mDNS messages from the link: the peers in a response and what a
 * query asks of us. Everything here is untrusted; see mdns.h for the rules
 * and docs/protocols/mdns.md for why they are these. */
#include "mdns.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hex.h"

static void service_name(enum mdns_service svc, struct dns_name *ret)
{
	(void)dns_name_from_text(svc == MDNS_PAIR ? MDNS_SERVICE_PAIR : MDNS_SERVICE_P2P, ret);
}

static bool has_prefix(const uint8_t *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	return len >= n && memcmp(s, prefix, n) == 0;
}

static bool label_is(const uint8_t *label, size_t len, const char *name)
{
	if (!name || strlen(name) != len)
		return false;
	for (size_t i = 0; i < len; i++) {
		uint8_t a = label[i], b = (uint8_t)name[i];
		if (a >= 'A' && a <= 'Z')
			a = (uint8_t)(a + 32);
		if (b >= 'A' && b <= 'Z')
			b = (uint8_t)(b + 32);
		if (a != b)
			return false;
	}
	return true;
}

static uint32_t clamp_ttl(uint32_t ttl)
{
	return ttl > MDNS_MAX_TTL_S ? MDNS_MAX_TTL_S : ttl;
}

void mdns_response_free(struct mdns_response *r)
{
	for (size_t i = 0; i < r->n; i++)
		for (size_t j = 0; j < r->peers[i].n_addrs; j++)
			multiaddr_free(&r->peers[i].addrs[j].ma);
	r->n = 0;
}

/* Per-peer state while its TXT strings are read. */
struct collect {
	const struct mdns_parse_opts *opts;
	struct mdns_response *resp;
	struct mdns_found *f;
	bool have_id;
	bool rejected;
	struct errmsg *err;
};

static int reject(struct collect *c, const char *why)
{
	c->rejected = true;
	errmsg_set(c->err, -EBADMSG, "mdns: peer '%s' %s", c->f->peer_name, why);
	return 0;
}

static void keep_addr(struct collect *c, struct multiaddr *ma, uint32_t ttl)
{
	struct mdns_found *f = c->f;
	for (size_t i = 0; i < f->n_addrs; i++) {
		if (multiaddr_equal(&f->addrs[i].ma, ma)) {
			if (ttl > f->addrs[i].ttl_s)
				f->addrs[i].ttl_s = ttl;
			multiaddr_free(ma);
			return;
		}
	}
	if (f->n_addrs == MDNS_MAX_ADDRS_PER_PEER) {
		c->resp->ignored_addrs++;
		multiaddr_free(ma);
		return;
	}
	f->addrs[f->n_addrs].ma = *ma;
	f->addrs[f->n_addrs].ttl_s = ttl;
	f->n_addrs++;
}

/* One "dnsaddr=" string. Only allocation failure is an error. */
static int take_dnsaddr(struct collect *c, const uint8_t *s, size_t len, uint32_t ttl)
{
	size_t plen = strlen(MDNS_TXT_DNSADDR);
	char text[256];
	struct multiaddr ma;
	struct peerid id;
	memcpy(text, s + plen, len - plen);
	text[len - plen] = '\0';
	/* A NUL would cut the text short and make a different address. */
	int r = memchr(s, 0, len) ? -EINVAL : multiaddr_parse(text, &ma, NULL);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		c->resp->ignored_addrs++;
		return 0;
	}
	if (multiaddr_get_p2p(&ma, &id) != 1) {
		c->resp->ignored_addrs++;
		multiaddr_free(&ma);
		return 0;
	}
	if (!c->have_id) {
		c->f->id = id;
		c->have_id = true;
	} else if (!peerid_equal(&c->f->id, &id)) {
		multiaddr_free(&ma);
		return reject(c, "announces two different peer IDs");
	}
	if (!mdns_addr_usable(&ma, c->opts->allow_loopback)) {
		c->resp->ignored_addrs++;
		multiaddr_free(&ma);
		return 0;
	}
	multiaddr_strip_p2p(&ma);
	keep_addr(c, &ma, ttl);
	return 0;
}

static int take_rv(struct collect *c, const uint8_t *s, size_t len)
{
	size_t plen = strlen(MDNS_TXT_RENDEZVOUS);
	struct buf rv = BUF_INIT;
	if (len - plen != 2 * MDNS_RENDEZVOUS_LEN ||
	    hex_decode((const char *)s + plen, len - plen, &rv) < 0) {
		buf_free(&rv);
		return reject(c, "has a malformed rendezvous identifier");
	}
	bool differs = c->f->has_rendezvous && memcmp(c->f->rendezvous, rv.data, rv.len) != 0;
	memcpy(c->f->rendezvous, rv.data, MDNS_RENDEZVOUS_LEN);
	c->f->has_rendezvous = true;
	buf_free(&rv);
	return differs ? reject(c, "has two rendezvous identifiers") : 0;
}

/* One "sd-name=" string: kept when it is the first valid one, else
 * counted and dropped. Never a reason to refuse the peer: its addresses
 * stand on their own. */
static void take_name(struct collect *c, const uint8_t *s, size_t len)
{
	size_t plen = strlen(MDNS_TXT_DEVICE_NAME);
	const char *name = (const char *)s + plen;
	if (!mdns_device_name_valid(name, len - plen)) {
		c->resp->bad_names++;
		return;
	}
	if (c->f->device_name[0])
		return;
	memcpy(c->f->device_name, name, len - plen);
	c->f->device_name[len - plen] = '\0';
}

static int take_txt(struct collect *c, const struct dns_rr *rr)
{
	size_t off = 0, len;
	const uint8_t *s;
	uint32_t ttl = clamp_ttl(rr->ttl);
	int r;
	while (!c->rejected && (r = dns_txt_next(rr, &off, &s, &len)) > 0) {
		if (has_prefix(s, len, MDNS_TXT_DNSADDR))
			r = take_dnsaddr(c, s, len, ttl);
		else if (c->opts->svc == MDNS_PAIR && has_prefix(s, len, MDNS_TXT_RENDEZVOUS))
			r = take_rv(c, s, len);
		else if (c->opts->svc == MDNS_P2P && has_prefix(s, len, MDNS_TXT_DEVICE_NAME))
			take_name(c, s, len);
		if (r < 0)
			return r;
	}
	return 0;
}

/* TXT records owned by target, from the answer and additional sections. */
static int collect_txt(struct collect *c, const struct dns_msg *msg, const struct dns_name *target)
{
	static const enum dns_section sections[] = {DNS_SECTION_ANSWER, DNS_SECTION_ADDITIONAL};
	for (size_t s = 0; s < 2 && !c->rejected; s++) {
		size_t n;
		const struct dns_rr *rr = dns_msg_section(msg, sections[s], &n);
		for (size_t i = 0; i < n && !c->rejected; i++) {
			if (rr[i].type != DNS_TYPE_TXT || rr[i].rclass != DNS_CLASS_IN ||
			    !dns_name_equal(&rr[i].name, target))
				continue;
			int r = take_txt(c, &rr[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static bool seen_label(const struct mdns_response *r, const uint8_t *label, size_t len)
{
	for (size_t i = 0; i < r->n; i++)
		if (label_is(label, len, r->peers[i].peer_name))
			return true;
	return false;
}

/* Where the peer goes: kept (n++), or dropped as ours, rejected or empty. */
static void settle_peer(struct collect *c)
{
	struct mdns_response *resp = c->resp;
	struct mdns_found *f = c->f;
	bool own = c->have_id && c->opts->self_id && peerid_equal(&f->id, c->opts->self_id);
	bool empty = f->n_addrs == 0 || (c->opts->svc == MDNS_PAIR && !f->has_rendezvous);
	if (!c->rejected && !own && !empty) {
		resp->n++;
		return;
	}
	if (c->rejected)
		resp->rejected_peers++;
	else if (own)
		resp->own++;
	for (size_t j = 0; j < f->n_addrs; j++)
		multiaddr_free(&f->addrs[j].ma);
	memset(f, 0, sizeof(*f));
}

static int take_ptr(const struct dns_msg *msg, const struct dns_rr *ptr, const struct dns_name *svc,
                    const struct mdns_parse_opts *opts, struct mdns_response *resp,
                    struct errmsg *err)
{
	const uint8_t *label;
	size_t len;
	if (!dns_name_is_child(&ptr->ptr, svc, &label, &len) || seen_label(resp, label, len))
		return 0;
	if (label_is(label, len, opts->self_name)) {
		resp->own++;
		return 0;
	}
	if (resp->n == MDNS_MAX_PEERS_PER_PACKET)
		return 0;
	struct mdns_found *f = &resp->peers[resp->n];
	memset(f, 0, sizeof(*f));
	memcpy(f->peer_name, label, len);
	f->ptr_ttl_s = clamp_ttl(ptr->ttl);
	struct collect c = {.opts = opts, .resp = resp, .f = f, .err = err};
	int r = collect_txt(&c, msg, &ptr->ptr);
	settle_peer(&c);
	return r;
}

int mdns_parse_response(const struct dns_msg *msg, const struct mdns_parse_opts *opts,
                        struct mdns_response *ret, struct errmsg *err)
{
	memset(ret, 0, sizeof(*ret));
	if (!(msg->flags & DNS_FLAG_QR) || DNS_OPCODE(msg->flags) || DNS_RCODE(msg->flags))
		return 0;
	struct dns_name svc;
	service_name(opts->svc, &svc);
	size_t n;
	const struct dns_rr *an = dns_msg_section(msg, DNS_SECTION_ANSWER, &n);
	for (size_t i = 0; i < n; i++) {
		if (an[i].type != DNS_TYPE_PTR || an[i].rclass != DNS_CLASS_IN ||
		    !dns_name_equal(&an[i].name, &svc))
			continue;
		int r = take_ptr(msg, &an[i], &svc, opts, ret, err);
		if (r < 0)
			return r;
	}
	if (ret->n == 0 && ret->rejected_peers > 0)
		return -EBADMSG;
	return 0;
}

/* ---- queries ---- */

static bool type_is(uint16_t t, uint16_t want)
{
	return t == want || t == DNS_TYPE_ANY;
}

/* Which of our responses a question asks for (0: none). */
static unsigned question_wants(const struct dns_question *q, const char *self_name)
{
	struct dns_name p2p, pair, meta, local;
	const uint8_t *label;
	size_t len;
	if (q->qclass != DNS_CLASS_IN && q->qclass != DNS_CLASS_ANY)
		return 0;
	service_name(MDNS_P2P, &p2p);
	service_name(MDNS_PAIR, &pair);
	(void)dns_name_from_text(MDNS_SERVICE_META, &meta);
	(void)dns_name_from_text("local", &local);
	if (type_is(q->type, DNS_TYPE_PTR) && dns_name_equal(&q->name, &p2p))
		return MDNS_WANT_P2P;
	if (type_is(q->type, DNS_TYPE_PTR) && dns_name_equal(&q->name, &pair))
		return MDNS_WANT_PAIR;
	if (type_is(q->type, DNS_TYPE_PTR) && dns_name_equal(&q->name, &meta))
		return MDNS_WANT_META;
	if ((type_is(q->type, DNS_TYPE_TXT) || q->type == DNS_TYPE_SRV) &&
	    dns_name_is_child(&q->name, &p2p, &label, &len) && label_is(label, len, self_name))
		return MDNS_WANT_P2P;
	if (type_is(q->type, DNS_TYPE_TXT) && dns_name_is_child(&q->name, &pair, &label, &len) &&
	    label_is(label, len, self_name))
		return MDNS_WANT_PAIR;
	if ((type_is(q->type, DNS_TYPE_A) || q->type == DNS_TYPE_AAAA) &&
	    dns_name_is_child(&q->name, &local, &label, &len) && label_is(label, len, self_name))
		return MDNS_WANT_P2P;
	return 0;
}

/* Known answers (RFC 6762 section 7.1): the asker already holds our PTR
 * with at least half its TTL left. */
static unsigned known_answers(const struct dns_msg *msg, const char *self_name, uint32_t ttl_s)
{
	unsigned known = 0;
	size_t n;
	const struct dns_rr *an = dns_msg_section(msg, DNS_SECTION_ANSWER, &n);
	for (size_t i = 0; i < n; i++) {
		const struct dns_rr *rr = &an[i];
		if (rr->type != DNS_TYPE_PTR || rr->ttl < ttl_s / 2)
			continue;
		for (enum mdns_service s = MDNS_P2P; s <= MDNS_PAIR; s++) {
			struct dns_name svc;
			const uint8_t *label;
			size_t len;
			service_name(s, &svc);
			if (dns_name_equal(&rr->name, &svc) &&
			    dns_name_is_child(&rr->ptr, &svc, &label, &len) &&
			    label_is(label, len, self_name))
				known |= s == MDNS_P2P ? MDNS_WANT_P2P : MDNS_WANT_PAIR;
		}
	}
	return known;
}

void mdns_classify_query(const struct dns_msg *msg, const char *self_name, uint16_t src_port,
                         uint32_t ttl_s, struct mdns_query_info *ret)
{
	memset(ret, 0, sizeof(*ret));
	if ((msg->flags & DNS_FLAG_QR) || DNS_OPCODE(msg->flags))
		return;
	for (size_t i = 0; i < msg->n_qd; i++) {
		unsigned w = question_wants(&msg->qd[i], self_name);
		if (!w)
			continue;
		if (!ret->question)
			ret->question = &msg->qd[i];
		ret->want |= w;
		ret->unicast |= msg->qd[i].unicast;
	}
	ret->want &= ~known_answers(msg, self_name, ttl_s);
	ret->legacy = ret->want && src_port != MDNS_PORT;
	ret->id = msg->id;
}
