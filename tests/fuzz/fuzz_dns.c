/* Fuzz the DNS message parser. Whatever the bytes, parsing ends with a
 * result and an error message or a message whose names are well formed and
 * within 255 octets, whose TXT views iterate cleanly inside the input, and
 * which the builder writes back (with and without compression) into bytes
 * that parse to the same questions and records. */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "dns.h"
#include "fuzz.h"

static void check_name(const struct dns_name *n)
{
	size_t i = 0;
	assert(n->len >= 1 && n->len <= DNS_NAME_MAX);
	while (n->wire[i]) {
		assert(n->wire[i] <= DNS_LABEL_MAX);
		i += (size_t)n->wire[i] + 1;
		assert(i < n->len);
	}
	assert(i + 1 == n->len);
}

static void check_rr(const struct dns_rr *rr, const uint8_t *data, size_t size)
{
	check_name(&rr->name);
	if (rr->type == DNS_TYPE_PTR)
		check_name(&rr->ptr);
	else if (rr->type == DNS_TYPE_SRV)
		check_name(&rr->srv.target);
	else if (rr->type != DNS_TYPE_A && rr->type != DNS_TYPE_AAAA) {
		assert(rr->raw.data >= data && rr->raw.data + rr->raw.len <= data + size);
		if (rr->type == DNS_TYPE_TXT) {
			size_t off = 0, n;
			const uint8_t *s;
			int r;
			while ((r = dns_txt_next(rr, &off, &s, &n)) > 0)
				assert(s + n <= rr->raw.data + rr->raw.len);
			assert(r == 0);
		}
	}
}

static bool same_rr(const struct dns_rr *a, const struct dns_rr *b)
{
	if (!dns_name_equal(&a->name, &b->name) || a->type != b->type || a->ttl != b->ttl ||
	    a->rclass != b->rclass || a->cache_flush != b->cache_flush)
		return false;
	switch (a->type) {
	case DNS_TYPE_PTR:
		return dns_name_equal(&a->ptr, &b->ptr);
	case DNS_TYPE_SRV:
		return a->srv.port == b->srv.port && dns_name_equal(&a->srv.target, &b->srv.target);
	case DNS_TYPE_A:
		return memcmp(a->a, b->a, 4) == 0;
	case DNS_TYPE_AAAA:
		return memcmp(a->aaaa, b->aaaa, 16) == 0;
	default:
		return a->raw.len == b->raw.len &&
		       memcmp(a->raw.data, b->raw.data, a->raw.len) == 0;
	}
}

static void rebuild(const struct dns_msg *m, bool compress)
{
	struct buf out = BUF_INIT;
	struct dns_builder b;
	int r = dns_builder_init(&b, &out, DNS_MAX_MESSAGE, compress, m->id, m->flags);
	assert(r == 0);
	for (size_t i = 0; i < m->n_qd && r == 0; i++)
		r = dns_builder_add_question(&b, &m->qd[i]);
	size_t n_rr = m->n_an + m->n_ns + m->n_ar;
	for (size_t i = 0; i < n_rr && r == 0; i++) {
		enum dns_section s = i < m->n_an             ? DNS_SECTION_ANSWER
		                     : i < m->n_an + m->n_ns ? DNS_SECTION_AUTHORITY
		                                             : DNS_SECTION_ADDITIONAL;
		r = dns_builder_add_rr(&b, s, &m->rr[i]);
	}
	/* Uncompressed, a legal message may outgrow the cap; nothing else. */
	assert(r == 0 || (r == -EMSGSIZE && !compress));
	if (r == 0) {
		dns_builder_finish(&b);
		struct dns_msg again;
		struct errmsg e;
		r = dns_parse(out.data, out.len, &again, &e);
		assert(r == 0);
		assert(again.n_qd == m->n_qd && again.n_an == m->n_an && again.n_ns == m->n_ns &&
		       again.n_ar == m->n_ar);
		for (size_t i = 0; i < m->n_qd; i++)
			assert(dns_name_equal(&again.qd[i].name, &m->qd[i].name));
		for (size_t i = 0; i < n_rr; i++)
			assert(same_rr(&again.rr[i], &m->rr[i]));
		dns_msg_free(&again);
	}
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_msg m;
	struct errmsg e = {{0}};
	int r = dns_parse(data, size, &m, &e);
	if (r < 0) {
		assert(r == -EBADMSG || r == -EMSGSIZE || r == -ENOMEM);
		assert(strncmp(e.text, "dns: ", 5) == 0 || r == -ENOMEM);
		return 0;
	}
	assert(m.n_qd <= DNS_MAX_QUESTIONS && m.n_an + m.n_ns + m.n_ar <= DNS_MAX_RRS);
	for (size_t i = 0; i < m.n_qd; i++)
		check_name(&m.qd[i].name);
	for (size_t i = 0; i < m.n_an + m.n_ns + m.n_ar; i++)
		check_rr(&m.rr[i], data, size);
	rebuild(&m, true);
	rebuild(&m, false);
	dns_msg_free(&m);
	return 0;
}
