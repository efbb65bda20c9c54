/* The Spacedrop device name in libp2p mDNS ("sd-name=" TXT string,
 * docs/protocols/mdns.md): which names pass, that our responses carry it in
 * every packet beside untouched "dnsaddr=" strings (all js-libp2p reads),
 * never in the pairing advertisement, and that hostile names from the link
 * are dropped without losing the peer; the cache and the engine follow a
 * peer's name as it changes or goes. */
#include "testutil.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dns.h"
#include "mdns.h"

#define ID_A "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA"
#define ID_B "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define T0 1000000

static struct peerid pid(const char *text)
{
	struct peerid id;
	assert_int_equal(peerid_parse(text, &id, NULL), 0);
	return id;
}

static struct multiaddr ma(const char *text)
{
	struct multiaddr m;
	assert_int_equal(multiaddr_parse(text, &m, NULL), 0);
	return m;
}

static bool valid(const char *s)
{
	return mdns_device_name_valid(s, strlen(s));
}

static void test_name_rules(void **state)
{
	char max[MDNS_DEVICE_NAME_MAX + 2];
	assert_true(valid("Laptop"));
	assert_true(valid("Jamie's MacBook Pro"));
	assert_true(valid("Caf\xc3\xa9 \xf0\x9f\x92\xbb")); /* "Café 💻" */
	memset(max, 'a', sizeof(max));
	max[MDNS_DEVICE_NAME_MAX] = '\0';
	assert_true(valid(max));
	max[MDNS_DEVICE_NAME_MAX] = 'a';
	max[MDNS_DEVICE_NAME_MAX + 1] = '\0';
	assert_false(valid(max)); /* one byte over */
	assert_false(valid(""));
	assert_false(mdns_device_name_valid(NULL, 0));
	assert_false(valid("tab\there"));
	assert_false(valid("esc\x1b[31mred"));
	assert_false(valid("del\x7f"));
	assert_false(valid("nel\xc2\x85"));     /* C1 U+0085 */
	assert_false(valid("bad\xff"));         /* not UTF-8 */
	assert_false(valid("cut\xc3"));         /* truncated sequence */
	assert_false(valid("over\xc0\xaf"));    /* overlong '/' */
	assert_false(valid("sur\xed\xa0\x80")); /* a surrogate */
	assert_false(valid("rlo\xe2\x80\xae"
	                   "cod"));              /* right-to-left override */
	assert_false(valid("iso\xe2\x81\xa6x")); /* bidi isolate */
	assert_false(valid("ls\xe2\x80\xa8"));   /* line separator */
	assert_false(mdns_device_name_valid("nul\0x", 5));
}

static void test_rdata(void **state)
{
	struct buf rd = BUF_INIT;
	assert_int_equal(mdns_device_name_rdata("Laptop", &rd), 0);
	assert_int_equal(rd.len, 1 + 14);
	assert_int_equal(rd.data[0], 14);
	assert_memory_equal(rd.data + 1, "sd-name=Laptop", 14);
	buf_free(&rd);
	assert_int_equal(mdns_device_name_rdata("bad\x01", &rd), -EINVAL);
	assert_int_equal(rd.len, 0);
	assert_int_equal(mdns_device_name_rdata(NULL, &rd), -EINVAL);
	buf_free(&rd);
	/* The longest name still fits one TXT string. */
	assert_true(strlen(MDNS_TXT_DEVICE_NAME) + MDNS_DEVICE_NAME_MAX <= 255);
	/* No "dnsaddr=" string can be taken for a name, or the reverse. */
	assert_int_not_equal(strncmp(MDNS_TXT_DEVICE_NAME, MDNS_TXT_DNSADDR, 2), 0);
}

/* Every TXT string of a packet, as js's @libp2p/mdns collects them. */
struct strings {
	size_t n_dnsaddr, n_name, n_other;
	char name[256];
};

static void txt_strings(const struct buf *pkt, struct strings *ret)
{
	struct dns_msg m;
	memset(ret, 0, sizeof(*ret));
	assert_int_equal(dns_parse(pkt->data, pkt->len, &m, NULL), 0);
	for (enum dns_section sec = DNS_SECTION_ANSWER; sec <= DNS_SECTION_ADDITIONAL; sec++) {
		size_t n;
		const struct dns_rr *rr = dns_msg_section(&m, sec, &n);
		for (size_t i = 0; i < n; i++) {
			size_t off = 0, len;
			const uint8_t *s;
			while (rr[i].type == DNS_TYPE_TXT &&
			       dns_txt_next(&rr[i], &off, &s, &len) > 0) {
				if (len >= 8 && !memcmp(s, "dnsaddr=", 8)) {
					ret->n_dnsaddr++;
				} else if (len >= 8 && !memcmp(s, "sd-name=", 8)) {
					ret->n_name++;
					memcpy(ret->name, s + 8, len - 8);
					ret->name[len - 8] = '\0';
				} else {
					ret->n_other++;
				}
			}
		}
	}
	dns_msg_free(&m);
}

static int parse_as(const struct buf *b, enum mdns_service svc, struct mdns_response *r)
{
	struct dns_msg m;
	struct peerid me = pid(ID_B);
	struct mdns_parse_opts o = {.svc = svc, .self_id = &me, .self_name = "self"};
	assert_int_equal(dns_parse(b->data, b->len, &m, NULL), 0);
	int rc = mdns_parse_response(&m, &o, r, NULL);
	dns_msg_free(&m);
	return rc;
}

static void build(enum mdns_service svc, const char *name, size_t n_addrs, struct mdns_packets *ret)
{
	static const uint8_t rv[MDNS_RENDEZVOUS_LEN] = {1, 2, 3};
	struct multiaddr addrs[MDNS_MAX_ADDRS];
	struct peerid id = pid(ID_A);
	for (size_t i = 0; i < n_addrs; i++) {
		char text[96];
		snprintf(text, sizeof(text), "/ip6/fd00::%zx/udp/%zu/quic-v1", i + 1, 4000 + i);
		addrs[i] = ma(text);
	}
	struct mdns_self self = {.svc = svc,
	                         .id = &id,
	                         .peer_name = "abcdefghijklmnopqrstuvwxyz012345",
	                         .addrs = addrs,
	                         .n_addrs = n_addrs,
	                         .ttl_s = 120,
	                         .rendezvous = rv,
	                         .device_name = name,
	                         .dns_sd = true};
	memset(ret, 0, sizeof(*ret));
	assert_int_equal(mdns_build_response(&self, ret, NULL), 0);
	for (size_t i = 0; i < n_addrs; i++)
		multiaddr_free(&addrs[i]);
}

static void test_response_carries_name(void **state)
{
	struct mdns_packets p;
	struct strings s;
	struct mdns_response r;
	build(MDNS_P2P, "Laptop \xf0\x9f\x92\xbb", 2, &p);
	assert_int_equal(p.n, 1);
	txt_strings(&p.pkt[0], &s);
	assert_int_equal(s.n_dnsaddr, 2);
	assert_int_equal(s.n_name, 1);
	assert_int_equal(s.n_other, 0);
	assert_string_equal(s.name, "Laptop \xf0\x9f\x92\xbb");
	assert_int_equal(parse_as(&p.pkt[0], MDNS_P2P, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.peers[0].n_addrs, 2);
	assert_string_equal(r.peers[0].device_name, "Laptop \xf0\x9f\x92\xbb");
	mdns_response_free(&r);
	mdns_packets_free(&p);

	/* Without a name: no sd-name string, and the parser reports none. */
	build(MDNS_P2P, NULL, 1, &p);
	txt_strings(&p.pkt[0], &s);
	assert_int_equal(s.n_name, 0);
	assert_int_equal(parse_as(&p.pkt[0], MDNS_P2P, &r), 0);
	assert_string_equal(r.peers[0].device_name, "");
	mdns_response_free(&r);
	mdns_packets_free(&p);

	/* A name we must not show is left out; discovery still works. */
	build(MDNS_P2P, "evil\x1b[2J", 1, &p);
	assert_int_equal(p.n, 1);
	txt_strings(&p.pkt[0], &s);
	assert_int_equal(s.n_name, 0);
	assert_int_equal(s.n_dnsaddr, 1);
	mdns_packets_free(&p);

	/* Never in the pairing advertisement. */
	build(MDNS_PAIR, "Laptop", 1, &p);
	txt_strings(&p.pkt[0], &s);
	assert_int_equal(s.n_name, 0);
	assert_int_equal(s.n_other, 1); /* rv= */
	mdns_packets_free(&p);
}

static void test_split_response_repeats_name(void **state)
{
	struct mdns_packets p;
	build(MDNS_P2P, "Desk", MDNS_MAX_ADDRS, &p);
	assert_true(p.n >= 2);
	size_t dnsaddrs = 0;
	for (size_t i = 0; i < p.n; i++) {
		struct strings s;
		struct mdns_response r;
		txt_strings(&p.pkt[i], &s);
		assert_int_equal(s.n_name, 1);
		assert_string_equal(s.name, "Desk");
		dnsaddrs += s.n_dnsaddr;
		assert_int_equal(parse_as(&p.pkt[i], MDNS_P2P, &r), 0);
		if (r.n)
			assert_string_equal(r.peers[0].device_name, "Desk");
		mdns_response_free(&r);
	}
	assert_int_equal(dnsaddrs + p.skipped_addrs, MDNS_MAX_ADDRS);
	mdns_packets_free(&p);
}

/* A response of peer ID_A with one dnsaddr and the given extra strings. */
static struct buf handmade_n(const char *const *extra, const size_t *lens, size_t n_extra)
{
	struct buf out = BUF_INIT, rd = BUF_INIT;
	struct dns_builder b;
	struct dns_rr ptr = {.type = DNS_TYPE_PTR, .rclass = DNS_CLASS_IN, .ttl = 120};
	const char *addr = "dnsaddr=/ip4/10.0.0.1/tcp/4001/p2p/" ID_A;
	assert_int_equal(dns_name_from_text(MDNS_SERVICE_P2P, &ptr.name), 0);
	assert_int_equal(dns_name_prepend(&ptr.name, "peer", 4, &ptr.ptr), 0);
	assert_int_equal(dns_txt_append(&rd, addr, strlen(addr)), 0);
	for (size_t i = 0; i < n_extra; i++)
		assert_int_equal(dns_txt_append(&rd, extra[i], lens ? lens[i] : strlen(extra[i])),
		                 0);
	struct dns_rr t = {.name = ptr.ptr,
	                   .type = DNS_TYPE_TXT,
	                   .rclass = DNS_CLASS_IN,
	                   .ttl = 120,
	                   .raw = {rd.data, (uint16_t)rd.len}};
	assert_int_equal(
	        dns_builder_init(&b, &out, DNS_MAX_MESSAGE, true, 0, DNS_FLAG_QR | DNS_FLAG_AA), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ANSWER, &ptr), 0);
	assert_int_equal(dns_builder_add_rr(&b, DNS_SECTION_ADDITIONAL, &t), 0);
	dns_builder_finish(&b);
	buf_free(&rd);
	return out;
}

static struct buf handmade(const char *const *extra, size_t n_extra)
{
	return handmade_n(extra, NULL, n_extra);
}

/* Parse a handmade response; the peer must survive whatever its name. */
static void parse_extra_n(const char *const *extra, const size_t *lens, size_t n,
                          const char *want_name, size_t want_bad)
{
	struct buf b = handmade_n(extra, lens, n);
	struct mdns_response r;
	assert_int_equal(parse_as(&b, MDNS_P2P, &r), 0);
	assert_int_equal(r.n, 1);
	assert_int_equal(r.peers[0].n_addrs, 1);
	assert_string_equal(r.peers[0].device_name, want_name);
	assert_int_equal(r.bad_names, want_bad);
	mdns_response_free(&r);
	buf_free(&b);
}

static void parse_extra(const char *const *extra, size_t n, const char *want_name, size_t want_bad)
{
	parse_extra_n(extra, NULL, n, want_name, want_bad);
}

static void test_hostile_names_dropped(void **state)
{
	char big[256];
	snprintf(big, sizeof(big), "sd-name=%0*d", 200, 7); /* 208 bytes: over the cap */
	const char *ok[] = {"sd-name=Kitchen"};
	const char *oversized[] = {big};
	const char *control[] = {"sd-name=a\x07"
	                         "b"};
	const char *ansi[] = {"sd-name=\x1b]0;pwned\x07"};
	const char *utf8[] = {"sd-name=\xfe\xfe"};
	const char *bidi[] = {"sd-name=txt.\xe2\x80\xae"
	                      "exe"};
	const char *empty[] = {"sd-name="};
	const char *nokey[] = {"sd-name", "sdname=x", "SD-NAME=x"};
	const char *two[] = {"sd-name=\x01", "sd-name=First", "sd-name=Second"};
	parse_extra(ok, 1, "Kitchen", 0);
	parse_extra(oversized, 1, "", 1);
	parse_extra(control, 1, "", 1);
	parse_extra(ansi, 1, "", 1);
	parse_extra(utf8, 1, "", 1);
	parse_extra(bidi, 1, "", 1);
	parse_extra(empty, 1, "", 1);
	parse_extra(nokey, 3, "", 0);
	parse_extra(two, 3, "First", 1);

	/* A NUL inside the string: dropped, never cut short into a name. */
	const char *nul[] = {"sd-name=ab\0cd"};
	const size_t nul_len[] = {13};
	parse_extra_n(nul, nul_len, 1, "", 1);

	/* The pairing parser ignores names. */
	struct buf p = handmade(ok, 1);
	struct mdns_response r;
	assert_int_equal(parse_as(&p, MDNS_PAIR, &r), 0);
	assert_int_equal(r.n, 0);
	mdns_response_free(&r);
	buf_free(&p);
}

/* tests/data/mdns/our-response-named.bin is the response js-libp2p's own
 * code was shown to read as the same peer at the same addresses as without
 * the name (tests/interop/mdns-check.mjs); building it must give those
 * bytes. */
static void test_matches_js_checked_bytes(void **state)
{
	struct peerid me = pid(ID_A);
	struct multiaddr a[] = {ma("/ip4/192.168.1.7/tcp/4001"),
	                        ma("/ip4/192.168.1.7/udp/4001/quic-v1"),
	                        ma("/ip6/fd00::7/tcp/4001")};
	struct mdns_self s = {.svc = MDNS_P2P,
	                      .id = &me,
	                      .peer_name = "q7k2m9x4p1z8c3v6b5n0l2j4h6g8f1d3",
	                      .addrs = a,
	                      .n_addrs = 3,
	                      .ttl_s = 120,
	                      .dns_sd = true,
	                      .device_name = "Jamie's Laptop \xc3\xa9"};
	struct mdns_packets p = {0};
	struct buf want = th_read_file(th_source_path("tests/data/mdns/our-response-named.bin"));
	assert_int_equal(mdns_build_response(&s, &p, NULL), 0);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.pkt[0].len, want.len);
	assert_memory_equal(p.pkt[0].data, want.data, want.len);
	mdns_packets_free(&p);
	buf_free(&want);
	for (size_t i = 0; i < 3; i++)
		multiaddr_free(&a[i]);
}

static struct mdns_found found(const char *name, uint32_t ttl)
{
	struct mdns_found f;
	memset(&f, 0, sizeof(f));
	f.id = pid(ID_A);
	f.ptr_ttl_s = ttl;
	f.n_addrs = 1;
	f.addrs[0].ma = ma("/ip4/10.0.0.1/tcp/4001");
	f.addrs[0].ttl_s = ttl;
	snprintf(f.device_name, sizeof(f.device_name), "%s", name);
	return f;
}

static void test_cache_follows_name(void **state)
{
	struct mdns_cache c;
	assert_int_equal(mdns_cache_init(&c, 0), 0);
	struct mdns_found f = found("Laptop", 120);
	struct peerid id = pid(ID_A);
	assert_int_equal(mdns_cache_update(&c, &f, T0), MDNS_CACHE_NEW);
	assert_string_equal(mdns_cache_find(&c, &id)->device_name, "Laptop");
	assert_int_equal(mdns_cache_update(&c, &f, T0 + 1), MDNS_CACHE_REFRESHED);
	/* Renamed: a change. */
	snprintf(f.device_name, sizeof(f.device_name), "Laptop 2");
	assert_int_equal(mdns_cache_update(&c, &f, T0 + 2), MDNS_CACHE_CHANGED);
	assert_string_equal(mdns_cache_find(&c, &id)->device_name, "Laptop 2");
	/* Stopped advertising it (spacedrop-discoverable off): gone. */
	f.device_name[0] = '\0';
	assert_int_equal(mdns_cache_update(&c, &f, T0 + 3), MDNS_CACHE_CHANGED);
	assert_string_equal(mdns_cache_find(&c, &id)->device_name, "");
	/* The entry, name and all, expires with its records. */
	snprintf(f.device_name, sizeof(f.device_name), "Laptop");
	mdns_cache_update(&c, &f, T0 + 4);
	struct peerid gone;
	bool all;
	assert_int_equal(mdns_cache_expire_one(&c, T0 + 4 + 120 * 1000, &gone, &all), 1);
	assert_true(all);
	assert_null(mdns_cache_find(&c, &id));
	multiaddr_free(&f.addrs[0].ma);
	mdns_cache_free(&c);
}

static struct mdns *engine(const char *id, uint8_t seed, const char *addr)
{
	struct mdns_config cfg = {.self = pid(id)};
	memset(cfg.name_seed, seed, sizeof(cfg.name_seed));
	struct mdns *m;
	assert_int_equal(mdns_new(&cfg, &m), 0);
	struct multiaddr a = ma(addr);
	assert_int_equal(mdns_set_addrs(m, &a, 1, T0), 1);
	multiaddr_free(&a);
	return m;
}

/* Deliver every output of from to to; returns how many. */
static size_t deliver(struct mdns *from, struct mdns *to, uint64_t now)
{
	struct mdns_output o;
	size_t n = 0;
	while (mdns_next_output(from, &o) == 1) {
		assert_int_equal(
		        mdns_handle_packet(to, o.data.data, o.data.len, MDNS_PORT, now, NULL), 0);
		buf_free(&o.data);
		n++;
	}
	return n;
}

static void drop_events(struct mdns *m)
{
	struct mdns_event ev;
	while (mdns_next_event(m, &ev) == 1)
		mdns_event_free(&ev);
}

static void test_engine_advertises_name(void **state)
{
	struct mdns *a = engine(ID_A, 4, "/ip4/10.0.0.1/tcp/4001");
	struct mdns *b = engine(ID_B, 5, "/ip4/10.0.0.2/tcp/4001");
	struct peerid ida = pid(ID_A);
	assert_int_equal(mdns_set_device_name(a, "bad\x01", T0), -EINVAL);
	assert_int_equal(mdns_set_device_name(a, "Laptop", T0), 1);
	assert_int_equal(mdns_set_device_name(a, "Laptop", T0), 0);
	mdns_start(a, T0);
	mdns_start(b, T0);
	deliver(a, b, T0);
	drop_events(b);
	const struct mdns_cache_entry *e = mdns_cache_find(mdns_cache_of(b), &ida);
	assert_non_null(e);
	assert_string_equal(e->device_name, "Laptop");

	/* Renaming announces at once; b sees the new name and an update. */
	deliver(a, b, T0 + 1000); /* the second start announcement */
	assert_int_equal(mdns_set_device_name(a, "Desk", T0 + 5000), 1);
	assert_true(deliver(a, b, T0 + 5000) >= 1);
	struct mdns_event ev;
	assert_int_equal(mdns_next_event(b, &ev), 1);
	assert_int_equal(ev.type, MDNS_EV_PEER_UPDATED);
	mdns_event_free(&ev);
	assert_string_equal(mdns_cache_find(mdns_cache_of(b), &ida)->device_name, "Desk");

	/* Turned off: announced without it, and b forgets the name. */
	assert_int_equal(mdns_set_device_name(a, NULL, T0 + 9000), 1);
	assert_true(deliver(a, b, T0 + 9000) >= 1);
	drop_events(b);
	assert_string_equal(mdns_cache_find(mdns_cache_of(b), &ida)->device_name, "");
	assert_int_equal(mdns_set_device_name(a, "", T0 + 9000), 0);
	mdns_free(a);
	mdns_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_rules),
	        cmocka_unit_test(test_rdata),
	        cmocka_unit_test(test_response_carries_name),
	        cmocka_unit_test(test_split_response_repeats_name),
	        cmocka_unit_test(test_matches_js_checked_bytes),
	        cmocka_unit_test(test_hostile_names_dropped),
	        cmocka_unit_test(test_cache_follows_name),
	        cmocka_unit_test(test_engine_advertises_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
