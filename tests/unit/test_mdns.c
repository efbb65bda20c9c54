/* libp2p mDNS and the pairing advertisement: js-libp2p's real packets
 * (tests/data/mdns, captured with tests/interop/mdns-capture.mjs), our
 * packets round-tripped, the validation rules, the cache with injected time
 * and the engine's timing and answers. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "mdns.h"

#define JS_PEER_NAME "wk3grhtzk07u1hkott3qplr7rl7s0i7ygyglh9hrx1wwxhce1e8mlgu05nzx1l5"
#define JS_PEER_ID "12D3KooWHjxnw69AHLK2MRcbDfvkYZbHnwXFNhiniWZTK2eJM9bz"
#define ID_A "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define ID_B "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define ID_RSA "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"

static struct peerid pid(const char *text)
{
	struct peerid id;
	assert_int_equal(peerid_parse(text, &id, NULL), 0);
	return id;
}

static struct multiaddr ma(const char *text)
{
	struct multiaddr m;
	struct errmsg e;
	if (multiaddr_parse(text, &m, &e) < 0)
		fail_msg("%s: %s", text, e.text);
	return m;
}

static void assert_ma(const struct multiaddr *m, const char *text)
{
	char out[MULTIADDR_TEXT_MAX];
	assert_true(multiaddr_to_string(m, out, sizeof(out)) > 0);
	assert_string_equal(out, text);
}

static struct buf data_file(const char *name)
{
	char rel[128];
	snprintf(rel, sizeof(rel), "tests/data/mdns/%s", name);
	return th_read_file(th_source_path(rel));
}

static void parse_dns(const struct buf *b, struct dns_msg *m)
{
	struct errmsg e = {{0}};
	if (dns_parse(b->data, b->len, m, &e) < 0)
		fail_msg("%s", e.text);
}

/* Parse a packet as a response for svc, as peer "self" would. */
static int parse_as(const struct buf *b, enum mdns_service svc, const char *self_id,
                    const char *self_name, struct mdns_response *r, struct errmsg *e)
{
	struct dns_msg m;
	struct peerid me = pid(self_id);
	struct mdns_parse_opts o = {.svc = svc, .self_id = &me, .self_name = self_name};
	parse_dns(b, &m);
	int rc = mdns_parse_response(&m, &o, r, e);
	dns_msg_free(&m);
	return rc;
}

/* A response with one PTR to <name>.<svc> and one TXT record per string
 * (in the answer or the additional section). */
static struct buf handmade(const char *svc, const char *name, const char *const *txt, size_t n,
                           enum dns_section sec)
{
	struct buf out = BUF_INIT, rd[16];
	struct dns_builder b;
	struct dns_rr ptr = {.type = DNS_TYPE_PTR, .rclass = DNS_CLASS_IN, .ttl = 120};
	assert_true(n <= 16);
	assert_int_equal(dns_name_from_text(svc, &ptr.name), 0);
	assert_int_equal(dns_name_prepend(&ptr.name, name, strlen(name), &ptr.ptr), 0);
	assert_int_equal(
	        dns_builder_init(&b, &out, DNS_MAX_MESSAGE, true, 0, DNS_FLAG_QR | DNS_FLAG_AA), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &ptr), 0);
	for (size_t i = 0; i < n; i++) {
		rd[i] = BUF_INIT;
		assert_int_equal(dns_txt_append(&rd[i], txt[i], strlen(txt[i])), 0);
		struct dns_rr t = {.name = ptr.ptr,
		                   .type = DNS_TYPE_TXT,
		                   .rclass = DNS_CLASS_IN,
		                   .ttl = 120,
		                   .raw = {rd[i].data, (uint16_t)rd[i].len}};
		assert_int_equal(dns_builder_add_rr(&b, sec, &t), 0);
	}
	dns_builder_finish(&b);
	for (size_t i = 0; i < n; i++)
		buf_free(&rd[i]);
	return out;
}

/* ---- records ---- */

static void test_js_response_read(void **state)
{
	struct buf b = data_file("js-response.bin");
	struct mdns_response r;
	assert_int_equal(parse_as(&b, MDNS_P2P, ID_A, "ourname", &r, NULL), 0);
	assert_int_equal(r.n, 1);
	struct mdns_found *f = &r.peers[0];
	struct peerid js = pid(JS_PEER_ID);
	assert_true(peerid_equal(&f->id, &js));
	assert_string_equal(f->peer_name, JS_PEER_NAME);
	assert_int_equal(f->ptr_ttl_s, 120);
	assert_int_equal(f->n_addrs, 3);
	assert_ma(&f->addrs[0].ma, "/ip4/192.168.1.5/tcp/4001");
	assert_ma(&f->addrs[1].ma, "/ip4/192.168.1.5/udp/4001/quic-v1");
	assert_ma(&f->addrs[2].ma, "/ip6/fd00::5/tcp/4001");
	assert_int_equal(f->addrs[0].ttl_s, 120);
	/* The /ws address is not one we can dial. */
	assert_int_equal(r.ignored_addrs, 1);
	mdns_response_free(&r);
	/* The same packet is not a pairing advertisement. */
	assert_int_equal(parse_as(&b, MDNS_PAIR, ID_A, "ourname", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	/* And it is js's own when we are that js node. */
	assert_int_equal(parse_as(&b, MDNS_P2P, ID_A, JS_PEER_NAME, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.own, 1);
	assert_int_equal(parse_as(&b, MDNS_P2P, JS_PEER_ID, "other", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.own, 1);
	buf_free(&b);
}

static void test_js_query_classified(void **state)
{
	struct buf b = data_file("js-query.bin");
	struct dns_msg m;
	struct mdns_query_info q;
	parse_dns(&b, &m);
	mdns_classify_query(&m, "ourname", MDNS_PORT, 120, &q);
	assert_int_equal(q.want, MDNS_WANT_P2P);
	assert_false(q.unicast);
	assert_false(q.legacy);
	assert_ptr_equal(q.question, &m.qd[0]);
	/* From another port it is a legacy unicast query. */
	mdns_classify_query(&m, "ourname", 40000, 120, &q);
	assert_true(q.legacy);
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_query_matches_js(void **state)
{
	struct buf js = data_file("js-query.bin"), ours = BUF_INIT;
	assert_int_equal(mdns_build_query(MDNS_P2P, &ours), 0);
	assert_int_equal(ours.len, js.len);
	assert_memory_equal(ours.data, js.data, js.len);
	buf_free(&ours);
	assert_int_equal(mdns_build_query(MDNS_PAIR, &ours), 0);
	struct dns_msg m;
	parse_dns(&ours, &m);
	char text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(&m.qd[0].name, text, sizeof(text));
	assert_string_equal(text, "_sdpair._udp.local");
	assert_int_equal(m.qd[0].type, DNS_TYPE_PTR);
	dns_msg_free(&m);
	buf_free(&ours);
	buf_free(&js);
}

static void test_peer_name(void **state)
{
	uint8_t seed[MDNS_PEER_NAME_LEN];
	char name[MDNS_PEER_NAME_LEN + 1];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(i * 37 + 250);
	mdns_peer_name_from_seed(seed, name);
	assert_int_equal(strlen(name), MDNS_PEER_NAME_LEN);
	for (size_t i = 0; i < MDNS_PEER_NAME_LEN; i++)
		assert_true((name[i] >= 'a' && name[i] <= 'z') ||
		            (name[i] >= '0' && name[i] <= '9'));
	/* 250 % 36 = 34 -> '8'; 287 % 256 = 31 -> '5'. */
	assert_int_equal(name[0], '8');
	assert_int_equal(name[1], '5');
}

/* Our response: PTR in answers, TXT/SRV/A/AAAA in additionals, parsed
 * back into the same peer. */
static void test_response_round_trip(void **state)
{
	struct peerid me = pid(ID_A);
	struct multiaddr addrs[] = {
	        ma("/ip4/10.0.0.2/tcp/4001"),
	        ma("/ip4/10.0.0.2/udp/4001/quic-v1/p2p/" ID_B), /* replaced by ours */
	        ma("/ip6/fd00::2/tcp/4001"),
	};
	struct mdns_self s = {.svc = MDNS_P2P,
	                      .id = &me,
	                      .peer_name = "abcdefghijklmnopqrstuvwxyz012345",
	                      .addrs = addrs,
	                      .n_addrs = 3,
	                      .ttl_s = 120,
	                      .dns_sd = true};
	struct mdns_packets p = {0};
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.skipped_addrs, 0);
	assert_true(p.pkt[0].len <= MDNS_MAX_PACKET);
	struct dns_msg m;
	parse_dns(&p.pkt[0], &m);
	assert_int_equal(m.flags, DNS_FLAG_QR | DNS_FLAG_AA);
	assert_int_equal(m.n_an, 1);
	assert_int_equal(m.rr[0].type, DNS_TYPE_PTR);
	/* 3 TXT, SRV, A, AAAA. */
	assert_int_equal(m.n_ar, 6);
	size_t off = 0, n;
	const uint8_t *str;
	assert_int_equal(dns_txt_next(&m.rr[1], &off, &str, &n), 1);
	const char *want = "dnsaddr=/ip4/10.0.0.2/tcp/4001/p2p/" ID_A;
	assert_int_equal(n, strlen(want));
	assert_memory_equal(str, want, n);
	assert_int_equal(m.rr[4].type, DNS_TYPE_SRV);
	assert_int_equal(m.rr[4].srv.port, 4001);
	char text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(&m.rr[4].srv.target, text, sizeof(text));
	assert_string_equal(text, "abcdefghijklmnopqrstuvwxyz012345.local");
	assert_int_equal(m.rr[5].type, DNS_TYPE_A);
	assert_memory_equal(m.rr[5].a, "\x0a\x00\x00\x02", 4);
	assert_int_equal(m.rr[6].type, DNS_TYPE_AAAA);
	dns_msg_free(&m);

	struct mdns_response r;
	assert_int_equal(parse_as(&p.pkt[0], MDNS_P2P, ID_B, "other", &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_true(peerid_equal(&r.peers[0].id, &me));
	assert_int_equal(r.peers[0].n_addrs, 3);
	assert_ma(&r.peers[0].addrs[1].ma, "/ip4/10.0.0.2/udp/4001/quic-v1");
	assert_ma(&r.peers[0].addrs[2].ma, "/ip6/fd00::2/tcp/4001");
	mdns_response_free(&r);
	/* Seen by ourselves: ignored by name. */
	assert_int_equal(parse_as(&p.pkt[0], MDNS_P2P, ID_B, s.peer_name, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.own, 1);
	mdns_packets_free(&p);
	for (size_t i = 0; i < 3; i++)
		multiaddr_free(&addrs[i]);
}

/* The bytes in tests/data/mdns/our-*.bin are what js-libp2p's code was
 * shown to accept (tests/interop/mdns-check.mjs). Building the same
 * responses must give the same bytes; a deliberate format change updates
 * the files and reruns that check. */
static void test_response_matches_js_checked_bytes(void **state)
{
	struct peerid me = pid(ID_A);
	struct multiaddr a[] = {ma("/ip4/192.168.1.7/tcp/4001"),
	                        ma("/ip4/192.168.1.7/udp/4001/quic-v1"),
	                        ma("/ip6/fd00::7/tcp/4001")};
	uint8_t rv[MDNS_RENDEZVOUS_LEN];
	for (size_t i = 0; i < sizeof(rv); i++)
		rv[i] = (uint8_t)i;
	struct mdns_self s = {.svc = MDNS_P2P,
	                      .id = &me,
	                      .peer_name = "q7k2m9x4p1z8c3v6b5n0l2j4h6g8f1d3",
	                      .addrs = a,
	                      .n_addrs = 3,
	                      .ttl_s = 120,
	                      .dns_sd = true,
	                      .rendezvous = rv};
	const char *files[] = {"our-response.bin", "our-pair-response.bin"};
	for (int i = 0; i < 2; i++) {
		struct mdns_packets p = {0};
		struct buf want = data_file(files[i]);
		s.svc = i ? MDNS_PAIR : MDNS_P2P;
		s.dns_sd = !i;
		assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.pkt[0].len, want.len);
		assert_memory_equal(p.pkt[0].data, want.data, want.len);
		mdns_packets_free(&p);
		buf_free(&want);
	}
	struct buf q = BUF_INIT, want = data_file("our-pair-query.bin");
	assert_int_equal(mdns_build_query(MDNS_PAIR, &q), 0);
	assert_int_equal(q.len, want.len);
	assert_memory_equal(q.data, want.data, want.len);
	buf_free(&q);
	buf_free(&want);
	for (size_t i = 0; i < 3; i++)
		multiaddr_free(&a[i]);
}

static void test_response_split(void **state)
{
	struct peerid me = pid(ID_RSA);
	struct multiaddr addrs[MDNS_MAX_ADDRS];
	char text[128];
	for (size_t i = 0; i < MDNS_MAX_ADDRS; i++) {
		snprintf(text, sizeof(text), "/ip6/fd00:1111:2222:3333:4444:5555:6666:%zx/tcp/%zu",
		         i + 1, 4000 + i);
		addrs[i] = ma(text);
	}
	struct mdns_self s = {.svc = MDNS_P2P,
	                      .id = &me,
	                      .peer_name = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
	                      .addrs = addrs,
	                      .n_addrs = MDNS_MAX_ADDRS,
	                      .ttl_s = 120,
	                      .dns_sd = true};
	struct mdns_packets p = {0};
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_true(p.n >= 2);
	assert_int_equal(p.skipped_addrs, 0);
	size_t total = 0, srv = 0;
	for (size_t i = 0; i < p.n; i++) {
		assert_true(p.pkt[i].len <= MDNS_MAX_PACKET);
		struct dns_msg m;
		parse_dns(&p.pkt[i], &m);
		/* Every packet stands alone: one PTR, then TXT records
		 * (the last may hold only SRV/AAAA). */
		assert_int_equal(m.n_an, 1);
		assert_int_equal(m.rr[0].type, DNS_TYPE_PTR);
		for (size_t j = 1; j < 1 + m.n_ar; j++)
			srv += m.rr[j].type == DNS_TYPE_SRV;
		dns_msg_free(&m);
		struct mdns_response r;
		assert_int_equal(parse_as(&p.pkt[i], MDNS_P2P, ID_A, "x", &r, NULL), 0);
		if (i + 1 < p.n) {
			assert_int_equal(r.n, 1);
			assert_true(peerid_equal(&r.peers[0].id, &me));
			total += r.peers[0].n_addrs;
		}
		mdns_response_free(&r);
	}
	/* 32 addresses over three packets; SRV and 8 AAAA in a fourth. */
	assert_int_equal(p.n, 4);
	assert_int_equal(total, MDNS_MAX_ADDRS);
	assert_int_equal(srv, 1);
	mdns_packets_free(&p);
	for (size_t i = 0; i < MDNS_MAX_ADDRS; i++)
		multiaddr_free(&addrs[i]);
}

static void test_response_edge_cases(void **state)
{
	struct peerid me = pid(ID_A);
	struct multiaddr a = ma("/ip4/10.0.0.2/tcp/4001");
	struct mdns_self s = {.svc = MDNS_P2P, .id = &me, .peer_name = "name", .ttl_s = 120};
	struct mdns_packets p = {0};
	struct errmsg e = {{0}};
	/* No addresses: nothing to say, as in js. */
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 0);
	s.addrs = &a;
	s.n_addrs = 1;
	s.peer_name = "bad.name";
	assert_int_equal(mdns_build_response(&s, &p, &e), -EINVAL);
	assert_string_equal(e.text, "mdns: bad peer name");
	s.peer_name = "name";
	s.svc = MDNS_PAIR;
	assert_int_equal(mdns_build_response(&s, &p, &e), -EINVAL);
	/* Legacy unicast: ID and question echoed. */
	struct dns_question q = {.type = DNS_TYPE_PTR, .qclass = DNS_CLASS_IN};
	dns_name_from_text(MDNS_SERVICE_P2P, &q.name);
	s.svc = MDNS_P2P;
	s.echo_question = &q;
	s.echo_id = 0x1234;
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	struct dns_msg m;
	parse_dns(&p.pkt[0], &m);
	assert_int_equal(m.id, 0x1234);
	assert_int_equal(m.n_qd, 1);
	assert_true(dns_name_equal(&m.qd[0].name, &q.name));
	dns_msg_free(&m);
	mdns_packets_free(&p);
	/* A TXT string over 255 bytes is skipped. */
	char longer[300];
	snprintf(longer, sizeof(longer), "/dns4/%0200d.example/tcp/1", 0);
	struct multiaddr big = ma(longer);
	struct multiaddr two[] = {big, a};
	s.echo_question = NULL;
	s.addrs = two;
	s.n_addrs = 2;
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.skipped_addrs, 1);
	mdns_packets_free(&p);
	multiaddr_free(&big);
	multiaddr_free(&a);
}

static void test_meta_response(void **state)
{
	struct buf b = BUF_INIT;
	assert_int_equal(mdns_build_meta_response(120, &b), 0);
	struct dns_msg m;
	parse_dns(&b, &m);
	char text[DNS_NAME_TEXT_MAX];
	assert_int_equal(m.n_an, 1);
	dns_name_to_text(&m.rr[0].name, text, sizeof(text));
	assert_string_equal(text, MDNS_SERVICE_META);
	dns_name_to_text(&m.rr[0].ptr, text, sizeof(text));
	assert_string_equal(text, MDNS_SERVICE_P2P);
	dns_msg_free(&m);
	/* Not a peer announcement. */
	struct mdns_response r;
	assert_int_equal(parse_as(&b, MDNS_P2P, ID_A, "x", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	buf_free(&b);
}

static void test_inconsistent_peer_ids(void **state)
{
	const char *txt[] = {
	        "dnsaddr=/ip4/10.0.0.3/tcp/1/p2p/" ID_A,
	        "dnsaddr=/ip4/10.0.0.3/tcp/2/p2p/" ID_B,
	};
	struct buf b = handmade(MDNS_SERVICE_P2P, "liar", txt, 2, DNS_SECTION_ADDITIONAL);
	struct mdns_response r;
	struct errmsg e = {{0}};
	assert_int_equal(parse_as(&b, MDNS_P2P, ID_RSA, "x", &r, &e), -EBADMSG);
	assert_string_equal(e.text, "mdns: peer 'liar' announces two different peer IDs");
	assert_int_equal(r.n, 0);
	assert_int_equal(r.rejected_peers, 1);
	mdns_response_free(&r);
	buf_free(&b);
}

static void test_unusable_addresses(void **state)
{
	const char *txt[] = {
	        "dnsaddr=/ip4/127.0.0.1/tcp/1/p2p/" ID_A,    /* loopback */
	        "dnsaddr=/ip6/::1/tcp/1/p2p/" ID_A,          /* loopback */
	        "dnsaddr=/ip4/10.0.0.3/tcp/1",               /* no /p2p */
	        "dnsaddr=/dns4/example.com/tcp/1/p2p/" ID_A, /* a name */
	        "dnsaddr=/ip4/10.0.0.3/tcp/1/p2p-circuit/p2p/" ID_A,
	        "dnsaddr=/ip6/fe80::1/tcp/1/p2p/" ID_A, /* zone needed */
	        "dnsaddr=/ip4/0.0.0.0/tcp/1/p2p/" ID_A, /* unspecified */
	        "dnsaddr=not a multiaddr",
	        "other=thing",                           /* not ours: skipped */
	        "dnsaddr=/ip4/10.0.0.3/tcp/7/p2p/" ID_A, /* the good one */
	        "dnsaddr=/ip4/10.0.0.3/tcp/7/p2p/" ID_A, /* duplicate */
	};
	/* A NUL inside the string would shorten it to a valid address. */
	static const char nul[] = "dnsaddr=/ip4/10.0.0.9/tcp/9/p2p/" ID_A "\0/x";
	struct buf b = handmade(MDNS_SERVICE_P2P, "peer", txt, 11, DNS_SECTION_ANSWER);
	struct mdns_response r;
	assert_int_equal(parse_as(&b, MDNS_P2P, ID_RSA, "x", &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.peers[0].n_addrs, 1);
	assert_ma(&r.peers[0].addrs[0].ma, "/ip4/10.0.0.3/tcp/7");
	assert_int_equal(r.ignored_addrs, 8);
	mdns_response_free(&r);
	/* Loopback allowed for tests. */
	struct dns_msg m;
	struct mdns_parse_opts o = {.svc = MDNS_P2P, .allow_loopback = true};
	parse_dns(&b, &m);
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.peers[0].n_addrs, 3);
	mdns_response_free(&r);
	dns_msg_free(&m);
	buf_free(&b);

	/* The NUL string, alone: no usable address, no peer. */
	struct buf rd = BUF_INIT, out = BUF_INIT;
	assert_int_equal(dns_txt_append(&rd, nul, sizeof(nul) - 1), 0);
	struct dns_builder bl;
	struct dns_rr ptr = {.type = DNS_TYPE_PTR, .rclass = DNS_CLASS_IN, .ttl = 120};
	dns_name_from_text(MDNS_SERVICE_P2P, &ptr.name);
	dns_name_from_text("p._p2p._udp.local", &ptr.ptr);
	struct dns_rr t = {.name = ptr.ptr,
	                   .type = DNS_TYPE_TXT,
	                   .rclass = DNS_CLASS_IN,
	                   .ttl = 120,
	                   .raw = {rd.data, (uint16_t)rd.len}};
	dns_builder_init(&bl, &out, DNS_MAX_MESSAGE, true, 0, DNS_FLAG_QR);
	assert_int_equal(dns_builder_add_rr(&bl, DNS_SECTION_ANSWER, &ptr), 0);
	assert_int_equal(dns_builder_add_rr(&bl, DNS_SECTION_ANSWER, &t), 0);
	dns_builder_finish(&bl);
	assert_int_equal(parse_as(&out, MDNS_P2P, ID_RSA, "x", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	assert_int_equal(r.ignored_addrs, 1);
	buf_free(&out);
	buf_free(&rd);
}

static void test_txt_of_other_owner_ignored(void **state)
{
	/* TXT records of another name do not belong to the PTR's peer
	 * (js would mix them; we do not). */
	const char *txt[] = {"dnsaddr=/ip4/10.0.0.3/tcp/1/p2p/" ID_A};
	struct buf b = handmade(MDNS_SERVICE_P2P, "peer", txt, 1, DNS_SECTION_ADDITIONAL);
	/* Rename the TXT owner's first letter: "peer" -> "qeer". The TXT
	 * owner is a pointer to the PTR target, so edit the PTR's rdata
	 * instead and check the answer no longer matches. */
	struct dns_msg m;
	parse_dns(&b, &m);
	m.rr[1].name.wire[1] = 'q';
	struct mdns_parse_opts o = {.svc = MDNS_P2P};
	struct mdns_response r;
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	/* Case differences do not matter. */
	m.rr[1].name.wire[1] = 'P';
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.n, 1);
	mdns_response_free(&r);
	/* Queries, wrong opcodes and error codes carry no peers. */
	m.flags = DNS_FLAG_QR | (1 << 11);
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	m.flags = DNS_FLAG_QR | 3;
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	m.flags = 0;
	assert_int_equal(mdns_parse_response(&m, &o, &r, NULL), 0);
	assert_int_equal(r.n, 0);
	dns_msg_free(&m);
	buf_free(&b);
}

static void test_pairing_round_trip(void **state)
{
	struct peerid me = pid(ID_A);
	uint8_t rv[MDNS_RENDEZVOUS_LEN];
	for (size_t i = 0; i < sizeof(rv); i++)
		rv[i] = (uint8_t)(0xa0 + i);
	struct multiaddr a = ma("/ip4/10.0.0.2/tcp/4001");
	struct mdns_self s = {.svc = MDNS_PAIR,
	                      .id = &me,
	                      .peer_name = "initiator",
	                      .addrs = &a,
	                      .n_addrs = 1,
	                      .ttl_s = 120,
	                      .rendezvous = rv};
	struct mdns_packets p = {0};
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	/* Only the identifier and the address go on the wire. */
	struct dns_msg m;
	parse_dns(&p.pkt[0], &m);
	assert_int_equal(m.n_an, 1);
	assert_int_equal(m.n_ar, 2);
	size_t off = 0, n;
	const uint8_t *str;
	assert_int_equal(dns_txt_next(&m.rr[1], &off, &str, &n), 1);
	const char *want = "rv=a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
	assert_int_equal(n, strlen(want));
	assert_memory_equal(str, want, n);
	assert_int_equal(dns_txt_next(&m.rr[1], &off, &str, &n), 0);
	char text[DNS_NAME_TEXT_MAX];
	dns_name_to_text(&m.rr[0].name, text, sizeof(text));
	assert_string_equal(text, "_sdpair._udp.local");
	dns_msg_free(&m);

	struct mdns_response r;
	assert_int_equal(parse_as(&p.pkt[0], MDNS_PAIR, ID_B, "joiner", &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_true(r.peers[0].has_rendezvous);
	assert_memory_equal(r.peers[0].rendezvous, rv, sizeof(rv));
	assert_true(peerid_equal(&r.peers[0].id, &me));
	assert_ma(&r.peers[0].addrs[0].ma, "/ip4/10.0.0.2/tcp/4001");
	mdns_response_free(&r);
	/* A libp2p listener (js or us) sees no peer in it. */
	assert_int_equal(parse_as(&p.pkt[0], MDNS_P2P, ID_B, "joiner", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	mdns_packets_free(&p);
	multiaddr_free(&a);
}

static void test_pairing_bad_rv(void **state)
{
	const char *dnsaddr = "dnsaddr=/ip4/10.0.0.3/tcp/1/p2p/" ID_A;
	const char *rv1 = "rv=00000000000000000000000000000000000000000000000000000000000000aa";
	const char *rv2 = "rv=00000000000000000000000000000000000000000000000000000000000000bb";
	const char *cases[][2] = {
	        {rv1, rv2},          /* two identifiers */
	        {"rv=abc", dnsaddr}, /* too short */
	        {"rv=zz00000000000000000000000000000000000000000000000000000000000000", dnsaddr},
	};
	const char *why[] = {"has two rendezvous identifiers",
	                     "has a malformed rendezvous identifier",
	                     "has a malformed rendezvous identifier"};
	for (size_t i = 0; i < 3; i++) {
		const char *txt[] = {cases[i][0], cases[i][1], dnsaddr};
		struct buf b = handmade(MDNS_SERVICE_PAIR, "ini", txt, 3, DNS_SECTION_ADDITIONAL);
		struct mdns_response r;
		struct errmsg e = {{0}};
		assert_int_equal(parse_as(&b, MDNS_PAIR, ID_B, "x", &r, &e), -EBADMSG);
		assert_non_null(strstr(e.text, why[i]));
		mdns_response_free(&r);
		buf_free(&b);
	}
	/* No identifier at all: not an advertisement. */
	const char *txt[] = {dnsaddr};
	struct buf b = handmade(MDNS_SERVICE_PAIR, "ini", txt, 1, DNS_SECTION_ADDITIONAL);
	struct mdns_response r;
	assert_int_equal(parse_as(&b, MDNS_PAIR, ID_B, "x", &r, NULL), 0);
	assert_int_equal(r.n, 0);
	buf_free(&b);
}

static struct dns_msg query_of(struct buf *b, const char *name, uint16_t type, bool qu)
{
	struct dns_builder bl;
	struct dns_question q = {.type = type, .qclass = DNS_CLASS_IN, .unicast = qu};
	struct dns_msg m;
	dns_name_from_text(name, &q.name);
	*b = BUF_INIT;
	dns_builder_init(&bl, b, 512, true, 77, 0);
	assert_int_equal(dns_builder_add_question(&bl, &q), 0);
	dns_builder_finish(&bl);
	parse_dns(b, &m);
	return m;
}

static void test_classify_queries(void **state)
{
	static const struct {
		const char *name;
		uint16_t type;
		unsigned want;
	} cases[] = {
	        {"_p2p._udp.local", DNS_TYPE_PTR, MDNS_WANT_P2P},
	        {"_P2P._UDP.LOCAL", DNS_TYPE_ANY, MDNS_WANT_P2P},
	        {"_p2p._udp.local", DNS_TYPE_TXT, 0},
	        {"_sdpair._udp.local", DNS_TYPE_PTR, MDNS_WANT_PAIR},
	        {"_services._dns-sd._udp.local", DNS_TYPE_PTR, MDNS_WANT_META},
	        {"me._p2p._udp.local", DNS_TYPE_TXT, MDNS_WANT_P2P},
	        {"me._p2p._udp.local", DNS_TYPE_SRV, MDNS_WANT_P2P},
	        {"other._p2p._udp.local", DNS_TYPE_TXT, 0},
	        {"me.local", DNS_TYPE_A, MDNS_WANT_P2P},
	        {"me.local", DNS_TYPE_AAAA, MDNS_WANT_P2P},
	        {"me.local", DNS_TYPE_TXT, 0},
	        {"me._sdpair._udp.local", DNS_TYPE_TXT, MDNS_WANT_PAIR},
	        {"_http._tcp.local", DNS_TYPE_PTR, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		struct mdns_query_info q;
		struct dns_msg m = query_of(&b, cases[i].name, cases[i].type, i == 1);
		mdns_classify_query(&m, "me", MDNS_PORT, 120, &q);
		if (q.want != cases[i].want)
			fail_msg("%s type %u: want %u, got %u", cases[i].name, cases[i].type,
			         cases[i].want, q.want);
		assert_int_equal(q.unicast, i == 1);
		assert_int_equal(q.id, 77);
		dns_msg_free(&m);
		buf_free(&b);
	}
}

static void test_known_answer_suppression(void **state)
{
	struct buf b = BUF_INIT;
	struct dns_builder bl;
	struct dns_question q = {.type = DNS_TYPE_PTR, .qclass = DNS_CLASS_IN};
	struct dns_rr known = {.type = DNS_TYPE_PTR, .rclass = DNS_CLASS_IN, .ttl = 60};
	dns_name_from_text(MDNS_SERVICE_P2P, &q.name);
	known.name = q.name;
	dns_name_from_text("me._p2p._udp.local", &known.ptr);
	dns_builder_init(&bl, &b, 512, true, 0, 0);
	dns_builder_add_question(&bl, &q);
	assert_int_equal(dns_builder_add_rr(&bl, DNS_SECTION_ANSWER, &known), 0);
	dns_builder_finish(&bl);
	struct dns_msg m;
	struct mdns_query_info qi;
	parse_dns(&b, &m);
	/* 60 s left of our 120: the asker knows us. */
	mdns_classify_query(&m, "me", MDNS_PORT, 120, &qi);
	assert_int_equal(qi.want, 0);
	/* 59 s: answer again. */
	m.rr[0].ttl = 59;
	mdns_classify_query(&m, "me", MDNS_PORT, 120, &qi);
	assert_int_equal(qi.want, MDNS_WANT_P2P);
	/* Someone else's PTR does not suppress ours. */
	m.rr[0].ttl = 120;
	mdns_classify_query(&m, "notme", MDNS_PORT, 120, &qi);
	assert_int_equal(qi.want, MDNS_WANT_P2P);
	/* A response is not a query; nor is opcode 1. */
	m.flags = DNS_FLAG_QR;
	mdns_classify_query(&m, "notme", MDNS_PORT, 120, &qi);
	assert_int_equal(qi.want, 0);
	m.flags = 1 << 11;
	mdns_classify_query(&m, "notme", MDNS_PORT, 120, &qi);
	assert_int_equal(qi.want, 0);
	dns_msg_free(&m);
	buf_free(&b);
}

/* ---- cache ---- */

static struct mdns_found found(const char *id, uint32_t ptr_ttl, const char *addr, uint32_t ttl)
{
	struct mdns_found f;
	memset(&f, 0, sizeof(f));
	f.id = pid(id);
	f.ptr_ttl_s = ptr_ttl;
	if (addr) {
		f.addrs[0].ma = ma(addr);
		f.addrs[0].ttl_s = ttl;
		f.n_addrs = 1;
	}
	return f;
}

static void found_free(struct mdns_found *f)
{
	for (size_t i = 0; i < f->n_addrs; i++)
		multiaddr_free(&f->addrs[i].ma);
}

static void test_cache_expiry_and_refresh(void **state)
{
	struct mdns_cache c;
	struct peerid id;
	bool gone;
	assert_int_equal(mdns_cache_init(&c, 4), 0);
	assert_int_equal(mdns_cache_next_expiry(&c), UINT64_MAX);
	struct mdns_found f = found(ID_A, 120, "/ip4/10.0.0.1/tcp/1", 120);
	assert_int_equal(mdns_cache_update(&c, &f, 1000), MDNS_CACHE_NEW);
	assert_int_equal(mdns_cache_update(&c, &f, 2000), MDNS_CACHE_REFRESHED);
	assert_int_equal(mdns_cache_next_expiry(&c), 122000);
	/* A second address from a split packet: the first stays. */
	struct mdns_found g = found(ID_A, 120, "/ip4/10.0.0.1/tcp/2", 10);
	assert_int_equal(mdns_cache_update(&c, &g, 3000), MDNS_CACHE_CHANGED);
	const struct mdns_cache_entry *e = mdns_cache_find(&c, &f.id);
	assert_non_null(e);
	assert_int_equal(e->n_addrs, 2);
	assert_int_equal(e->first_seen_ms, 1000);
	assert_int_equal(e->last_seen_ms, 3000);
	/* Nothing due before 13000; then only the short-lived address. */
	assert_int_equal(mdns_cache_next_expiry(&c), 13000);
	assert_int_equal(mdns_cache_expire_one(&c, 12999, &id, &gone), 0);
	assert_int_equal(mdns_cache_expire_one(&c, 13000, &id, &gone), 1);
	assert_false(gone);
	assert_true(peerid_equal(&id, &f.id));
	assert_int_equal(mdns_cache_find(&c, &f.id)->n_addrs, 1);
	assert_int_equal(mdns_cache_expire_one(&c, 13000, &id, &gone), 0);
	/* Refreshed at 100 s: lives until 220 s, not 122 s. */
	assert_int_equal(mdns_cache_update(&c, &f, 100000), MDNS_CACHE_REFRESHED);
	assert_int_equal(mdns_cache_expire_one(&c, 219999, &id, &gone), 0);
	assert_int_equal(mdns_cache_expire_one(&c, 220000, &id, &gone), 1);
	assert_true(gone);
	assert_null(mdns_cache_find(&c, &f.id));
	assert_int_equal(c.n, 0);
	found_free(&f);
	found_free(&g);
	mdns_cache_free(&c);
}

static void test_cache_goodbye(void **state)
{
	struct mdns_cache c;
	struct peerid id;
	bool gone;
	assert_int_equal(mdns_cache_init(&c, 0), 0);
	assert_int_equal(c.max, MDNS_CACHE_MAX_PEERS);
	struct mdns_found f = found(ID_A, 120, "/ip4/10.0.0.1/tcp/1", 120);
	assert_int_equal(mdns_cache_update(&c, &f, 0), MDNS_CACHE_NEW);
	/* The peer leaves: PTR with TTL 0. Gone one second later. */
	struct mdns_found bye = found(ID_A, 0, "/ip4/10.0.0.1/tcp/1", 0);
	assert_int_equal(mdns_cache_update(&c, &bye, 50000), MDNS_CACHE_REFRESHED);
	assert_int_equal(mdns_cache_next_expiry(&c), 51000);
	assert_int_equal(mdns_cache_expire_one(&c, 51000, &id, &gone), 1);
	assert_true(gone);
	/* A goodbye from a stranger adds nothing. */
	assert_int_equal(mdns_cache_update(&c, &bye, 60000), MDNS_CACHE_REFRESHED);
	assert_int_equal(c.n, 0);
	/* Huge TTLs were clamped by the parser; the cache trusts f. */
	found_free(&f);
	found_free(&bye);
	mdns_cache_free(&c);
}

static void test_cache_bounds(void **state)
{
	const char *ids[] = {ID_A, ID_B, ID_RSA, JS_PEER_ID};
	struct mdns_cache c;
	assert_int_equal(mdns_cache_init(&c, 3), 0);
	/* Three peers with different lifetimes fill the cache. */
	for (size_t i = 0; i < 3; i++) {
		struct mdns_found f =
		        found(ids[i], 120, "/ip4/10.0.0.1/tcp/1", (uint32_t)(100 - i));
		assert_int_equal(mdns_cache_update(&c, &f, 0), MDNS_CACHE_NEW);
		found_free(&f);
	}
	/* The fourth evicts the one closest to expiry (ID_RSA, 98 s). */
	struct mdns_found f = found(ids[3], 120, "/ip4/10.0.0.1/tcp/1", 120);
	assert_int_equal(mdns_cache_update(&c, &f, 0), MDNS_CACHE_NEW);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.evicted, 1);
	struct peerid rsa = pid(ID_RSA), a = pid(ID_A);
	assert_null(mdns_cache_find(&c, &rsa));
	assert_non_null(mdns_cache_find(&c, &a));
	found_free(&f);
	/* Addresses per peer are capped too. */
	struct mdns_found many;
	memset(&many, 0, sizeof(many));
	many.id = a;
	many.ptr_ttl_s = 120;
	char text[64];
	for (size_t i = 0; i < MDNS_MAX_ADDRS_PER_PEER; i++) {
		snprintf(text, sizeof(text), "/ip4/10.0.1.%zu/tcp/1", i);
		many.addrs[i].ma = ma(text);
		many.addrs[i].ttl_s = 120;
	}
	many.n_addrs = MDNS_MAX_ADDRS_PER_PEER;
	assert_int_equal(mdns_cache_update(&c, &many, 0), MDNS_CACHE_CHANGED);
	assert_int_equal(mdns_cache_find(&c, &a)->n_addrs, MDNS_MAX_ADDRS_PER_PEER);
	found_free(&many);
	mdns_cache_free(&c);
}

/* ---- engine ---- */

#define T0 1000000

static struct mdns *engine(const char *id, uint8_t seed, const char *addr)
{
	struct mdns_config cfg = {.self = pid(id)};
	memset(cfg.name_seed, seed, sizeof(cfg.name_seed));
	struct mdns *m;
	assert_int_equal(mdns_new(&cfg, &m), 0);
	if (addr) {
		struct multiaddr a = ma(addr);
		assert_int_equal(mdns_set_addrs(m, &a, 1, T0), 1);
		multiaddr_free(&a);
	}
	return m;
}

/* Take all outputs; returns how many, keeping up to max of them. */
static size_t outputs(struct mdns *m, struct mdns_output *keep, size_t max)
{
	struct mdns_output o;
	size_t n = 0;
	while (mdns_next_output(m, &o) == 1) {
		if (n < max)
			keep[n] = o;
		else
			buf_free(&o.data);
		n++;
	}
	return n;
}

static void outputs_free(struct mdns_output *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf_free(&o[i].data);
}

static bool is_query(const struct buf *b)
{
	return b->len > 3 && !(b->data[2] & 0x80);
}

/* Deliver every output of a to b (from port 5353); returns how many. */
static size_t deliver(struct mdns *from, struct mdns *to, uint64_t now)
{
	struct mdns_output o[16];
	size_t n = outputs(from, o, 16);
	for (size_t i = 0; i < n && i < 16; i++)
		assert_int_equal(
		        mdns_handle_packet(to, o[i].data.data, o[i].data.len, MDNS_PORT, now, NULL),
		        0);
	outputs_free(o, n < 16 ? n : 16);
	return n;
}

static void test_engine_start_and_backoff(void **state)
{
	struct mdns *m = engine(ID_A, 1, "/ip4/10.0.0.1/tcp/4001");
	struct mdns_output o[4];
	/* Not started: nothing sent, no timer. */
	assert_int_equal(outputs(m, o, 0), 0);
	assert_int_equal(mdns_next_timeout(m), UINT64_MAX);
	assert_int_equal(mdns_start(m, T0), 0);
	/* A query and an announcement at once. */
	assert_int_equal(outputs(m, o, 4), 2);
	assert_true(is_query(&o[0].data));
	assert_false(is_query(&o[1].data));
	assert_false(o[1].unicast);
	outputs_free(o, 2);
	/* Second announcement and second query one second later. */
	assert_int_equal(mdns_next_timeout(m), T0 + 1000);
	assert_int_equal(mdns_handle_timeout(m, T0 + 999), 0);
	assert_int_equal(outputs(m, o, 0), 0);
	assert_int_equal(mdns_handle_timeout(m, T0 + 1000), 0);
	assert_int_equal(outputs(m, o, 0), 2);
	/* Then queries only, at doubling intervals up to 60 s. */
	uint64_t t = T0 + 1000, gap = 2000;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(mdns_next_timeout(m), t + gap);
		t += gap;
		assert_int_equal(mdns_handle_timeout(m, t), 0);
		assert_int_equal(outputs(m, o, 1), 1);
		assert_true(is_query(&o[0].data));
		outputs_free(o, 1);
		gap = gap * 2 > MDNS_QUERY_INTERVAL_MAX_MS ? MDNS_QUERY_INTERVAL_MAX_MS : gap * 2;
	}
	assert_int_equal(gap, MDNS_QUERY_INTERVAL_MAX_MS);
	assert_null(mdns_free(m));
}

static void test_engine_discovers_js(void **state)
{
	struct mdns *m = engine(ID_A, 2, "/ip4/10.0.0.1/tcp/4001");
	struct buf js = data_file("js-response.bin");
	struct mdns_event ev;
	assert_int_equal(mdns_start(m, T0), 0);
	outputs(m, NULL, 0);
	assert_int_equal(mdns_handle_packet(m, js.data, js.len, MDNS_PORT, T0, NULL), 0);
	assert_int_equal(mdns_next_event(m, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_FOUND);
	struct peerid jsid = pid(JS_PEER_ID);
	assert_true(peerid_equal(&ev.id, &jsid));
	assert_int_equal(ev.n_addrs, 3);
	assert_ma(&ev.addrs[0], "/ip4/192.168.1.5/tcp/4001");
	mdns_event_free(&ev);
	assert_int_equal(mdns_next_event(m, &ev), 0);
	/* js re-announces every 10 s: no new event, expiry pushed out. */
	assert_int_equal(mdns_handle_packet(m, js.data, js.len, MDNS_PORT, T0 + 10000, NULL), 0);
	assert_int_equal(mdns_next_event(m, &ev), 0);
	/* js stops: 120 s after its last answer the peer expires. */
	uint64_t t = T0 + 10000 + 120000;
	while (mdns_next_timeout(m) < t) {
		assert_int_equal(mdns_handle_timeout(m, mdns_next_timeout(m)), 0);
		outputs(m, NULL, 0);
		assert_int_equal(mdns_next_event(m, &ev), 0);
	}
	assert_int_equal(mdns_next_timeout(m), t);
	assert_int_equal(mdns_handle_timeout(m, t), 0);
	assert_int_equal(mdns_next_event(m, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_EXPIRED);
	assert_int_equal(ev.n_addrs, 0);
	mdns_event_free(&ev);
	/* A response from a port other than 5353 is ignored. */
	assert_int_equal(mdns_handle_packet(m, js.data, js.len, 40000, t, NULL), 0);
	assert_int_equal(mdns_next_event(m, &ev), 0);
	/* A broken packet is an error, counted. */
	struct errmsg e = {{0}};
	assert_int_equal(mdns_handle_packet(m, js.data, 20, MDNS_PORT, t, &e), -EBADMSG);
	struct mdns_stats st;
	mdns_get_stats(m, &st);
	assert_int_equal(st.bad_packets, 1);
	assert_int_equal(st.packets_in, 4);
	buf_free(&js);
	mdns_free(m);
}

static void test_engine_answers_queries(void **state)
{
	struct mdns *m = engine(ID_A, 3, "/ip4/10.0.0.1/tcp/4001");
	struct buf q = data_file("js-query.bin");
	struct mdns_output o[4];
	/* Before start: silent. */
	assert_int_equal(mdns_handle_packet(m, q.data, q.len, MDNS_PORT, T0, NULL), 0);
	assert_int_equal(outputs(m, o, 0), 0);
	mdns_start(m, T0);
	outputs(m, NULL, 0);
	/* Within a second of the announcement: rate-limited. */
	assert_int_equal(mdns_handle_packet(m, q.data, q.len, MDNS_PORT, T0 + 500, NULL), 0);
	assert_int_equal(outputs(m, o, 0), 0);
	assert_int_equal(mdns_handle_packet(m, q.data, q.len, MDNS_PORT, T0 + 1000, NULL), 0);
	assert_int_equal(outputs(m, o, 4), 1);
	assert_false(o[0].unicast);
	struct mdns_response r;
	assert_int_equal(parse_as(&o[0].data, MDNS_P2P, ID_B, "x", &r, NULL), 0);
	assert_int_equal(r.n, 1);
	assert_ma(&r.peers[0].addrs[0].ma, "/ip4/10.0.0.1/tcp/4001");
	mdns_response_free(&r);
	outputs_free(o, 1);
	/* Legacy unicast (source port 40000): answered at once, by unicast,
	 * ID 0 echoed with the question, TTL 10. */
	assert_int_equal(mdns_handle_packet(m, q.data, q.len, 40000, T0 + 1001, NULL), 0);
	assert_int_equal(outputs(m, o, 4), 1);
	assert_true(o[0].unicast);
	struct dns_msg dm;
	parse_dns(&o[0].data, &dm);
	assert_int_equal(dm.n_qd, 1);
	assert_int_equal(dm.rr[0].ttl, MDNS_LEGACY_TTL_S);
	dns_msg_free(&dm);
	outputs_free(o, 1);
	/* A pairing query gets nothing while we advertise no code. */
	struct buf pq = BUF_INIT;
	mdns_build_query(MDNS_PAIR, &pq);
	assert_int_equal(mdns_handle_packet(m, pq.data, pq.len, MDNS_PORT, T0 + 5000, NULL), 0);
	assert_int_equal(outputs(m, o, 0), 0);
	/* Meta query: its own packet. */
	struct buf mb;
	struct dns_msg mq = query_of(&mb, MDNS_SERVICE_META, DNS_TYPE_PTR, false);
	dns_msg_free(&mq);
	assert_int_equal(mdns_handle_packet(m, mb.data, mb.len, MDNS_PORT, T0 + 5000, NULL), 0);
	assert_int_equal(outputs(m, o, 4), 1);
	parse_dns(&o[0].data, &dm);
	assert_int_equal(dm.n_an, 1);
	assert_int_equal(dm.n_ar, 0);
	dns_msg_free(&dm);
	outputs_free(o, 1);
	struct mdns_stats st;
	mdns_get_stats(m, &st);
	assert_int_equal(st.rate_limited, 1);
	assert_int_equal(st.queries_answered, 3);
	buf_free(&mb);
	buf_free(&pq);
	buf_free(&q);
	mdns_free(m);
}

/* Two engines on one link: they find each other, ignore themselves and
 * follow address changes. */
static void test_engines_meet(void **state)
{
	struct mdns *a = engine(ID_A, 4, "/ip4/10.0.0.1/tcp/4001");
	struct mdns *b = engine(ID_B, 5, "/ip4/10.0.0.2/tcp/4001");
	struct mdns_event ev;
	assert_string_not_equal(mdns_peer_name(a), mdns_peer_name(b));
	mdns_start(a, T0);
	mdns_start(b, T0);
	/* a's query and announcement reach b, and loop back to a itself. */
	struct mdns_output o[4];
	size_t n = outputs(a, o, 4);
	assert_int_equal(n, 2);
	for (size_t i = 0; i < n; i++) {
		mdns_handle_packet(b, o[i].data.data, o[i].data.len, MDNS_PORT, T0, NULL);
		mdns_handle_packet(a, o[i].data.data, o[i].data.len, MDNS_PORT, T0, NULL);
	}
	outputs_free(o, n);
	assert_int_equal(mdns_next_event(a, &ev), 0); /* our own: ignored */
	assert_int_equal(mdns_next_event(b, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_FOUND);
	struct peerid ida = pid(ID_A), idb = pid(ID_B);
	assert_true(peerid_equal(&ev.id, &ida));
	mdns_event_free(&ev);
	/* b's answer (rate-limited: it just announced) and announcement. */
	deliver(b, a, T0);
	assert_int_equal(mdns_next_event(a, &ev), 1);
	assert_true(peerid_equal(&ev.id, &idb));
	mdns_event_free(&ev);
	struct mdns_stats st;
	mdns_get_stats(a, &st);
	assert_int_equal(st.own_seen, 1);

	/* a's address changes: a goodbye for the old one, then announcements. */
	struct multiaddr na = ma("/ip4/10.0.0.9/tcp/4001");
	assert_int_equal(mdns_set_addrs(a, &na, 1, T0 + 3000), 1);
	assert_int_equal(mdns_set_addrs(a, &na, 1, T0 + 3000), 0);
	/* The query due since T0 + 1000, the goodbye, the announcement. */
	assert_int_equal(deliver(a, b, T0 + 3000), 3);
	assert_int_equal(mdns_next_event(b, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_UPDATED);
	assert_int_equal(ev.n_addrs, 2);
	mdns_event_free(&ev);
	/* One second later the old address is gone. */
	mdns_handle_timeout(b, T0 + 4000);
	outputs(b, NULL, 0);
	assert_int_equal(mdns_next_event(b, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_UPDATED);
	assert_int_equal(ev.n_addrs, 1);
	assert_ma(&ev.addrs[0], "/ip4/10.0.0.9/tcp/4001");
	mdns_event_free(&ev);
	/* a loses every address: a full goodbye; b forgets it a second later. */
	assert_int_equal(mdns_set_addrs(a, NULL, 0, T0 + 5000), 1);
	deliver(a, b, T0 + 5000);
	mdns_handle_timeout(b, T0 + 6000);
	outputs(b, NULL, 0);
	assert_int_equal(mdns_next_event(b, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_EXPIRED);
	assert_true(peerid_equal(&ev.id, &ida));
	mdns_event_free(&ev);
	multiaddr_free(&na);
	mdns_free(a);
	mdns_free(b);
}

static void test_engine_addr_filter(void **state)
{
	struct mdns *m = engine(ID_A, 6, NULL);
	struct multiaddr in[] = {
	        ma("/ip4/127.0.0.1/tcp/1"),    ma("/ip4/10.0.0.1/tcp/1/p2p/" ID_A),
	        ma("/ip4/10.0.0.1/tcp/1"), /* same without /p2p */
	        ma("/dns4/example.com/tcp/1"), ma("/ip4/10.0.0.1/tcp/1/p2p-circuit"),
	};
	assert_int_equal(mdns_set_addrs(m, in, 5, T0), 1);
	mdns_start(m, T0);
	struct mdns_output o[2];
	assert_int_equal(outputs(m, o, 2), 2);
	struct mdns_response r;
	assert_int_equal(parse_as(&o[1].data, MDNS_P2P, ID_B, "x", &r, NULL), 0);
	assert_int_equal(r.peers[0].n_addrs, 1);
	assert_ma(&r.peers[0].addrs[0].ma, "/ip4/10.0.0.1/tcp/1");
	mdns_response_free(&r);
	outputs_free(o, 2);
	for (size_t i = 0; i < 5; i++)
		multiaddr_free(&in[i]);
	mdns_free(m);
}

/* Drain the events; count those of one type. */
static size_t count_events(struct mdns *m, enum mdns_event_type type)
{
	struct mdns_event ev;
	size_t n = 0;
	while (mdns_next_event(m, &ev) == 1) {
		n += ev.type == type;
		mdns_event_free(&ev);
	}
	return n;
}

static void test_pairing_engines(void **state)
{
	uint8_t rv[MDNS_RENDEZVOUS_LEN], other[MDNS_RENDEZVOUS_LEN];
	memset(rv, 0x5a, sizeof(rv));
	memset(other, 0x11, sizeof(other));
	struct mdns *ini = engine(ID_A, 7, "/ip4/10.0.0.1/tcp/4001");
	struct mdns *decoy = engine(ID_RSA, 9, "/ip4/10.0.0.3/tcp/4001");
	struct mdns *joiner = engine(ID_B, 8, "/ip4/10.0.0.2/tcp/4001");
	struct mdns_event ev;
	mdns_start(ini, T0);
	mdns_start(decoy, T0);
	mdns_start(joiner, T0);
	outputs(ini, NULL, 0);
	outputs(decoy, NULL, 0);
	outputs(joiner, NULL, 0);
	assert_int_equal(mdns_pair_advertise(ini, rv, T0), 0);
	assert_int_equal(mdns_pair_advertise(decoy, other, T0), 0);
	outputs(ini, NULL, 0); /* the announcement went before the joiner listened */
	outputs(decoy, NULL, 0);
	/* The joiner asks; both initiators answer; only ours is reported. */
	mdns_handle_timeout(joiner, T0 + 2000);
	outputs(joiner, NULL, 0);
	assert_int_equal(mdns_pair_seek(joiner, rv, T0 + 2000), 0);
	struct mdns_output q[2];
	assert_int_equal(outputs(joiner, q, 2), 1);
	mdns_handle_packet(ini, q[0].data.data, q[0].data.len, MDNS_PORT, T0 + 2000, NULL);
	mdns_handle_packet(decoy, q[0].data.data, q[0].data.len, MDNS_PORT, T0 + 2000, NULL);
	outputs_free(q, 1);
	assert_int_equal(deliver(decoy, joiner, T0 + 2000), 1);
	assert_int_equal(mdns_next_event(joiner, &ev), 0);
	assert_int_equal(deliver(ini, joiner, T0 + 2000), 1);
	assert_int_equal(mdns_next_event(joiner, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PAIR_FOUND);
	struct peerid ida = pid(ID_A);
	assert_true(peerid_equal(&ev.id, &ida));
	assert_int_equal(ev.n_addrs, 1);
	assert_ma(&ev.addrs[0], "/ip4/10.0.0.1/tcp/4001");
	mdns_event_free(&ev);
	/* Reported once per seek. */
	mdns_pair_seek(joiner, rv, T0 + 3000);
	outputs(joiner, NULL, 0);
	mdns_pair_advertise(ini, rv, T0 + 3000);
	deliver(ini, joiner, T0 + 3000);
	assert_int_equal(count_events(joiner, MDNS_EV_PAIR_FOUND), 1);
	mdns_pair_advertise(ini, rv, T0 + 4000);
	deliver(ini, joiner, T0 + 4000);
	assert_int_equal(count_events(joiner, MDNS_EV_PAIR_FOUND), 0);
	/* The initiator stops: a goodbye, and no more answers. */
	mdns_pair_stop(ini, T0 + 5000);
	struct mdns_output bye[2];
	assert_int_equal(outputs(ini, bye, 2), 1);
	struct dns_msg dm;
	parse_dns(&bye[0].data, &dm);
	assert_int_equal(dm.rr[0].ttl, 0);
	dns_msg_free(&dm);
	outputs_free(bye, 1);
	struct buf pq = BUF_INIT;
	mdns_build_query(MDNS_PAIR, &pq);
	mdns_handle_packet(ini, pq.data, pq.len, MDNS_PORT, T0 + 9000, NULL);
	assert_int_equal(outputs(ini, NULL, 0), 0);
	/* The joiner's queries back off like any other. */
	mdns_pair_seek_stop(joiner);
	assert_true(mdns_next_timeout(joiner) > T0 + 3000);
	buf_free(&pq);
	mdns_free(ini);
	mdns_free(decoy);
	mdns_free(joiner);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_js_response_read),
	        cmocka_unit_test(test_js_query_classified),
	        cmocka_unit_test(test_query_matches_js),
	        cmocka_unit_test(test_peer_name),
	        cmocka_unit_test(test_response_round_trip),
	        cmocka_unit_test(test_response_matches_js_checked_bytes),
	        cmocka_unit_test(test_response_split),
	        cmocka_unit_test(test_response_edge_cases),
	        cmocka_unit_test(test_meta_response),
	        cmocka_unit_test(test_inconsistent_peer_ids),
	        cmocka_unit_test(test_unusable_addresses),
	        cmocka_unit_test(test_txt_of_other_owner_ignored),
	        cmocka_unit_test(test_pairing_round_trip),
	        cmocka_unit_test(test_pairing_bad_rv),
	        cmocka_unit_test(test_classify_queries),
	        cmocka_unit_test(test_known_answer_suppression),
	        cmocka_unit_test(test_cache_expiry_and_refresh),
	        cmocka_unit_test(test_cache_goodbye),
	        cmocka_unit_test(test_cache_bounds),
	        cmocka_unit_test(test_engine_start_and_backoff),
	        cmocka_unit_test(test_engine_discovers_js),
	        cmocka_unit_test(test_engine_answers_queries),
	        cmocka_unit_test(test_engines_meet),
	        cmocka_unit_test(test_engine_addr_filter),
	        cmocka_unit_test(test_pairing_engines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
