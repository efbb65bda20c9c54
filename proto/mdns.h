/* libp2p mDNS discovery (discovery/mdns.md, checklist section 14) and
 * sdnetd's pairing advertisement, sans-I/O. docs/protocols/mdns.md says what
 * goes on the wire and why.
 *
 * Three layers, each usable alone:
 *   1. Records (mdns-records.c): build our query and our responses, parse a
 *      received response into peers, classify a received query. Pure
 *      functions over proto/dns.h.
 *   2. Cache (mdns-cache.c): peers we heard of, bounded, with per-address
 *      expiry driven by the caller's clock.
 *   3. Engine (mdns.c): one struct mdns per socket/interface. The daemon
 *      feeds it received datagrams and the time, and takes out datagrams to
 *      send and discovery events. It never reads a clock or touches a socket.
 *
 * Driving the engine (the daemon's side):
 *
 *   mdns_new(&cfg, &m); mdns_set_addrs(m, addrs, n, now); mdns_start(m, now);
 *   loop:
 *     on a datagram from the socket bound to MDNS_PORT:
 *         mdns_handle_packet(m, bytes, len, src_port, now, &err);
 *     on the timer:  mdns_handle_timeout(m, now);
 *     after either (and after any mdns_set_addrs / mdns_pair_*):
 *         while (mdns_next_output(m, &o) == 1) {
 *             send o.data to o.unicast ? <source of the datagram just handled>
 *                                      : MDNS_GROUP_V4/V6 port MDNS_PORT;
 *             buf_free(&o.data);
 *         }
 *         while (mdns_next_event(m, &ev) == 1) { ...; mdns_event_free(&ev); }
 *         re-arm the timer for mdns_next_timeout(m) (absolute ms, same clock
 *         as now_ms; UINT64_MAX: none).
 *
 * Unicast outputs only come out of mdns_handle_packet, and always answer the
 * datagram passed in that call, so drain outputs before handling the next.
 * Times are milliseconds of a monotonic clock chosen by the caller. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "dns.h"
#include "errmsg.h"
#include "multiaddr.h"
#include "peerid.h"

#define MDNS_PORT 5353
#define MDNS_GROUP_V4 "224.0.0.251"
#define MDNS_GROUP_V6 "ff02::fb"

/* libp2p's service (no private-network fingerprint: we do not use pnet). */
#define MDNS_SERVICE_P2P "_p2p._udp.local"
/* sdnetd's pairing advertisement: an initiator holding a pairing code
 * answers for it with the code's rendezvous identifier and its addresses. */
#define MDNS_SERVICE_PAIR "_sdpair._udp.local"
/* DNS-SD meta query (RFC 6763 section 9). */
#define MDNS_SERVICE_META "_services._dns-sd._udp.local"

/* TTL of our records: js's 120 s. */
#define MDNS_TTL_S 120
/* RFC 6762 section 6.7: legacy unicast answers carry at most 10 s. */
#define MDNS_LEGACY_TTL_S 10
/* Received TTLs are clamped to this, so a peer cannot pin a cache entry. */
#define MDNS_MAX_TTL_S 3600
/* 1500-byte Ethernet MTU minus IPv6 (40) and UDP (8) headers: every packet
 * we build fits one frame on either family. */
#define MDNS_MAX_PACKET 1452
/* Random lower-case alphanumeric peer name (the spec: at least 32, under 64,
 * never the peer ID). */
#define MDNS_PEER_NAME_LEN 32
/* Our own advertised addresses. */
#define MDNS_MAX_ADDRS 32
/* A response to one query spans at most this many packets. */
#define MDNS_MAX_RESPONSE_PACKETS 8
/* Distinct host addresses put in A/AAAA records. */
#define MDNS_MAX_HOST_ADDRS 8
/* Peers taken from one received packet, and addresses per peer. */
#define MDNS_MAX_PEERS_PER_PACKET 8
#define MDNS_MAX_ADDRS_PER_PEER 16
/* Rendezvous identifier of a pairing code (docs/pairing.md). */
#define MDNS_RENDEZVOUS_LEN 32
/* TXT keys. */
#define MDNS_TXT_DNSADDR "dnsaddr="
#define MDNS_TXT_RENDEZVOUS "rv="
/* Spacedrop discovery: our device name, in its own TXT string of our
 * _p2p record (never in the pairing advertisement). A key js and rust never
 * read (they take only strings starting "dnsaddr="), and one no "dnsaddr="
 * string can start with. docs/protocols/mdns.md says why and what it
 * reveals. */
#define MDNS_TXT_DEVICE_NAME "sd-name="
/* The longest device name we send or accept, in bytes (the daemon's own
 * device names are at most this long too, DEVNAME_MAX): "sd-name=" plus the
 * name always fits one 255-byte TXT string. */
#define MDNS_DEVICE_NAME_MAX 64

enum mdns_service {
	MDNS_P2P = 0,
	MDNS_PAIR = 1,
};

/* ---- 1. Records ---------------------------------------------------- */

/* Make the peer name from caller-supplied random bytes (the engine does
 * this from cfg.name_seed). out must hold MDNS_PEER_NAME_LEN + 1 bytes. */
void mdns_peer_name_from_seed(const uint8_t seed[MDNS_PEER_NAME_LEN],
                              char out[MDNS_PEER_NAME_LEN + 1]);

/* Whether len bytes are a device name we send or accept (mdns-name.c): 1 to
 * MDNS_DEVICE_NAME_MAX bytes of valid UTF-8 (no overlong forms, surrogates
 * or NUL) without control characters (C0, DEL, C1), line or paragraph
 * separators, or bidirectional overrides and isolates (they would let a name
 * display as another one). */
bool mdns_device_name_valid(const char *s, size_t len);
/* Append the TXT string "sd-name=<name>" to rd. -EINVAL when the name is
 * not mdns_device_name_valid, -ENOMEM. */
int mdns_device_name_rdata(const char *name, struct buf *rd);

/* The query we send: id 0, one question "<service> PTR IN", QU bit clear.
 * Appends one packet to out. -ENOMEM. */
int mdns_build_query(enum mdns_service svc, struct buf *out);

/* What we say about ourselves in a response. */
struct mdns_self {
	enum mdns_service svc;
	const struct peerid *id;
	const char *peer_name;
	/* Addresses, with or without a trailing /p2p (it is replaced by
	 * /p2p/<id>). Encoded as given: the caller picks LAN addresses. */
	const struct multiaddr *addrs;
	size_t n_addrs;
	uint32_t ttl_s; /* 0: a goodbye (RFC 6762 section 10.1) */
	/* Withdraw just these addresses: their TXT records carry TTL 0 while
	 * the PTR keeps ttl_s. */
	bool addrs_goodbye;
	/* MDNS_PAIR: the rendezvous identifier (MDNS_RENDEZVOUS_LEN bytes). */
	const uint8_t *rendezvous;
	/* MDNS_P2P: the device name for Spacedrop discovery, as a TXT record
	 * "sd-name=<name>" in every packet; NULL: none. Ignored for
	 * MDNS_PAIR. */
	const char *device_name;
	/* MDNS_P2P: add DNS-SD SRV and A/AAAA records for <peer-name>.local
	 * to the first packet when they fit. */
	bool dns_sd;
	/* Legacy unicast (RFC 6762 section 6.7): copy this query ID and
	 * question into every packet. NULL otherwise. */
	const struct dns_question *echo_question;
	uint16_t echo_id;
};

struct mdns_packets {
	size_t n;
	struct buf pkt[MDNS_MAX_RESPONSE_PACKETS];
	size_t skipped_addrs; /* addresses left out: TXT string over 255 bytes,
	                       * or no room in MDNS_MAX_RESPONSE_PACKETS */
};

/* Build our response: flags QR|AA, answer "<service> PTR
 * <peer-name>.<service>", additional section one TXT record per address
 * holding "dnsaddr=<addr>/p2p/<id>" (MDNS_PAIR: first a TXT record
 * "rv=<64 hex digits>"), then for MDNS_P2P with dns_sd SRV/A/AAAA. Packets
 * are at most MDNS_MAX_PACKET bytes; when the TXT records do not fit in one,
 * every further packet repeats the PTR (and for MDNS_PAIR the rv record) so
 * each packet stands alone, as js's parser needs. No packet is built when no
 * address can be encoded (js does the same). Appends to *ret (zero it first;
 * free with mdns_packets_free). Errors: -EINVAL (bad peer name, missing
 * rendezvous), -ENOMEM. */
int mdns_build_response(const struct mdns_self *self, struct mdns_packets *ret, struct errmsg *err);
/* The DNS-SD meta answer "_services._dns-sd._udp.local PTR _p2p._udp.local"
 * in a packet of its own (js reads only the last PTR of a packet, so it must
 * not share one with our _p2p PTR). */
int mdns_build_meta_response(uint32_t ttl_s, struct buf *out);
void mdns_packets_free(struct mdns_packets *p);

/* A peer found in a response. */
struct mdns_found_addr {
	struct multiaddr ma; /* without /p2p */
	uint32_t ttl_s;      /* clamped to MDNS_MAX_TTL_S */
};

struct mdns_found {
	struct peerid id;
	char peer_name[DNS_LABEL_MAX + 1]; /* as sent (case kept) */
	uint32_t ptr_ttl_s;                /* 0: the peer said goodbye */
	struct mdns_found_addr addrs[MDNS_MAX_ADDRS_PER_PEER];
	size_t n_addrs;
	/* MDNS_P2P: the "sd-name=" device name when the peer sent a valid
	 * one (the first, when several); "" otherwise. For display and
	 * name lookup only. */
	char device_name[MDNS_DEVICE_NAME_MAX + 1];
	/* MDNS_PAIR only. */
	bool has_rendezvous;
	uint8_t rendezvous[MDNS_RENDEZVOUS_LEN];
};

struct mdns_parse_opts {
	enum mdns_service svc;
	const struct peerid *self_id; /* peers with this ID are ours: skipped */
	const char *self_name;        /* a PTR to this name is ours: skipped */
	bool allow_loopback;          /* accept 127/8 and ::1 (tests only) */
};

struct mdns_response {
	size_t n;
	struct mdns_found peers[MDNS_MAX_PEERS_PER_PACKET];
	size_t own;            /* our own announcements seen */
	size_t ignored_addrs;  /* dnsaddr strings not usable (not a multiaddr
	                        * we support, no /p2p, not ip4/ip6 with tcp or
	                        * udp/quic-v1, loopback, over the per-peer cap) */
	size_t rejected_peers; /* peers whose records contradict each other */
	size_t bad_names;      /* "sd-name=" strings dropped (not a valid name) */
};

/* Read the peers out of a response (QR set, opcode and rcode 0; anything
 * else yields no peers). For each answer "<service> PTR <label>.<service>",
 * TXT records owned by the PTR target are taken from the answer and the
 * additional sections (js sends them as answers, rust and we as
 * additionals). Every "dnsaddr=" string must be a multiaddr ending in
 * /p2p/<id>, and all of a peer's IDs must agree; a peer whose IDs differ, or
 * (MDNS_PAIR) whose rv strings differ or are not 64 hex digits, is rejected.
 * A peer with no usable address is left out (for MDNS_PAIR also one without
 * rv). Fills *ret; free it with mdns_response_free (also after an error).
 * Returns 0, or -EBADMSG when peers were announced and every one was
 * rejected (err says why, naming the peer). */
int mdns_parse_response(const struct dns_msg *msg, const struct mdns_parse_opts *opts,
                        struct mdns_response *ret, struct errmsg *err);

void mdns_response_free(struct mdns_response *r);

/* What a received query asks of us. */
enum {
	MDNS_WANT_P2P = 1 << 0,  /* our libp2p response */
	MDNS_WANT_PAIR = 1 << 1, /* our pairing response */
	MDNS_WANT_META = 1 << 2, /* the DNS-SD meta answer */
};

struct mdns_query_info {
	unsigned want;
	bool unicast; /* a wanted question had the QU bit */
	/* Source port other than 5353: answer by unicast, echo ID and
	 * question, TTL at most MDNS_LEGACY_TTL_S (RFC 6762 section 6.7). */
	bool legacy;
	uint16_t id;
	const struct dns_question *question; /* first wanted question */
};

/* Classify a query (QR clear, opcode 0; else nothing is wanted). Questions
 * of class IN or ANY count: "<service> PTR|ANY", "<self_name>.<service>
 * TXT|SRV|ANY" and "<self_name>.local A|AAAA|ANY" (answered with the whole
 * response), "_services._dns-sd._udp.local PTR|ANY". Known-answer
 * suppression (RFC 6762 section 7.1): a query that already lists our PTR
 * with at least half our TTL left does not want it again. */
void mdns_classify_query(const struct dns_msg *msg, const char *self_name, uint16_t src_port,
                         uint32_t ttl_s, struct mdns_query_info *ret);

/* Whether an address is worth advertising or dialling over mDNS:
 * ip4/ip6 with tcp or udp/quic-v1 (a trailing /p2p allowed), and not
 * loopback unless allow_loopback. */
bool mdns_addr_usable(const struct multiaddr *ma, bool allow_loopback);

/* ---- 2. Cache ------------------------------------------------------- */

/* Default cap on peers remembered per engine. */
#define MDNS_CACHE_MAX_PEERS 256

struct mdns_cache_addr {
	struct multiaddr ma;
	uint64_t expires_ms;
};

struct mdns_cache_entry {
	struct peerid id;
	/* The device name of the peer's latest response ("" when it sent
	 * none). */
	char device_name[MDNS_DEVICE_NAME_MAX + 1];
	struct mdns_cache_addr addrs[MDNS_MAX_ADDRS_PER_PEER];
	size_t n_addrs;
	uint64_t first_seen_ms;
	uint64_t last_seen_ms;
};

struct mdns_cache {
	struct mdns_cache_entry *entries;
	size_t n, max;
	size_t evicted; /* entries dropped to make room */
};

enum mdns_cache_change {
	MDNS_CACHE_REFRESHED = 0, /* known peer, same addresses */
	MDNS_CACHE_NEW = 1,       /* peer added */
	MDNS_CACHE_CHANGED = 2,   /* an address added, or the device name changed */
};

/* max 0 means MDNS_CACHE_MAX_PEERS. -ENOMEM. */
int mdns_cache_init(struct mdns_cache *c, size_t max);
void mdns_cache_free(struct mdns_cache *c);
/* Record what a peer announced: each address expires TTL seconds after
 * now (a TTL of 0, a goodbye, after one second as RFC 6762 section 10.1
 * says). Addresses the peer did not repeat keep their own expiry. When the
 * cache is full, the entry closest to expiry makes room. Returns an enum
 * mdns_cache_change, or -ENOMEM. */
int mdns_cache_update(struct mdns_cache *c, const struct mdns_found *f, uint64_t now_ms);
/* Drop expired addresses of one entry. Returns 0 when nothing is expired
 * at now_ms; else 1, with *ret_id the entry and *ret_gone whether the whole
 * entry went (it had no address left). Call until it returns 0. */
int mdns_cache_expire_one(struct mdns_cache *c, uint64_t now_ms, struct peerid *ret_id,
                          bool *ret_gone);
/* Earliest address expiry, UINT64_MAX when empty. */
uint64_t mdns_cache_next_expiry(const struct mdns_cache *c);
const struct mdns_cache_entry *mdns_cache_find(const struct mdns_cache *c, const struct peerid *id);

/* ---- 3. Engine ------------------------------------------------------ */

/* Pending outputs and events per engine; beyond them new ones are dropped
 * (outputs) or postponed (expiry events) and counted. */
#define MDNS_MAX_OUTPUTS 32
#define MDNS_MAX_EVENTS 64
/* RFC 6762 section 5.2: the first two queries one second apart, then the
 * interval doubles up to this (under 80% of a js TTL, so peers that answer
 * queries stay cached). */
#define MDNS_QUERY_INTERVAL_FIRST_MS 1000
#define MDNS_QUERY_INTERVAL_MAX_MS 60000
/* RFC 6762 section 8.3: announce twice, one second apart. */
#define MDNS_ANNOUNCE_COUNT 2
#define MDNS_ANNOUNCE_INTERVAL_MS 1000
/* RFC 6762 section 6: multicast the same answer at most once a second. */
#define MDNS_MIN_RESPONSE_INTERVAL_MS 1000

struct mdns_config {
	struct peerid self;
	/* Random bytes for the peer name (crypto_random in the daemon). */
	uint8_t name_seed[MDNS_PEER_NAME_LEN];
	uint32_t ttl_s;      /* 0: MDNS_TTL_S */
	size_t max_peers;    /* 0: MDNS_CACHE_MAX_PEERS */
	bool allow_loopback; /* tests on lo only */
	bool dns_sd;         /* add SRV/A/AAAA to our responses */
};

enum mdns_event_type {
	MDNS_EV_PEER_FOUND,   /* a new peer (addrs: all its addresses) */
	MDNS_EV_PEER_UPDATED, /* a known peer gained or lost addresses */
	MDNS_EV_PEER_EXPIRED, /* all its addresses expired (addrs empty) */
	/* While seeking: an initiator advertising our rendezvous identifier
	 * (addrs: where to dial it). Reported once per peer per seek. */
	MDNS_EV_PAIR_FOUND,
};

struct mdns_event {
	enum mdns_event_type type;
	struct peerid id;
	struct multiaddr *addrs; /* owned; without /p2p */
	size_t n_addrs;
};

struct mdns_output {
	struct buf data;
	bool unicast; /* to the source of the datagram just handled */
};

struct mdns_stats {
	uint64_t packets_in, bad_packets, queries_answered, responses_seen, own_seen;
	uint64_t outputs_dropped, events_dropped, rate_limited, ignored_addrs, rejected_peers;
	uint64_t evicted;   /* cache entries pushed out by newer peers */
	uint64_t bad_names; /* "sd-name=" strings dropped */
};

struct mdns;

/* -EINVAL (empty peer ID), -ENOMEM. */
int mdns_new(const struct mdns_config *cfg, struct mdns **ret);
/* NULL-safe; returns NULL. */
struct mdns *mdns_free(struct mdns *m);
const char *mdns_peer_name(const struct mdns *m);
/* Begin: query now, and announce if we have addresses. */
int mdns_start(struct mdns *m, uint64_t now_ms);
/* Replace our addresses (those not mdns_addr_usable are dropped, at most
 * MDNS_MAX_ADDRS kept). When the set changed and we are started, a goodbye
 * for the removed addresses and two announcements are scheduled (the first
 * at once). Returns 1 if changed, 0 if not, -ENOMEM. */
int mdns_set_addrs(struct mdns *m, const struct multiaddr *addrs, size_t n, uint64_t now_ms);
/* Advertise this device name in our _p2p response (NULL or "": stop).
 * An invalid name (mdns_device_name_valid) is -EINVAL and changes nothing.
 * When it changed and we are started with addresses, two announcements are
 * scheduled (the first at once). Returns 1 if changed, 0 if not. */
int mdns_set_device_name(struct mdns *m, const char *name, uint64_t now_ms);
/* Initiator: advertise a pairing rendezvous identifier (announce twice,
 * answer _sdpair queries) until mdns_pair_stop, which sends a goodbye. */
int mdns_pair_advertise(struct mdns *m, const uint8_t rv[MDNS_RENDEZVOUS_LEN], uint64_t now_ms);
void mdns_pair_stop(struct mdns *m, uint64_t now_ms);
/* Joiner: query _sdpair._udp.local (now, then with backoff) and report
 * initiators advertising rv as MDNS_EV_PAIR_FOUND, until
 * mdns_pair_seek_stop. */
int mdns_pair_seek(struct mdns *m, const uint8_t rv[MDNS_RENDEZVOUS_LEN], uint64_t now_ms);
void mdns_pair_seek_stop(struct mdns *m);
/* A datagram received on the mDNS socket. Returns 0, or the negative errno
 * of dns_parse / mdns_parse_response for a bad packet (err says why; log
 * at debug and carry on), or -ENOMEM. */
int mdns_handle_packet(struct mdns *m, const uint8_t *pkt, size_t len, uint16_t src_port,
                       uint64_t now_ms, struct errmsg *err);
/* Run due queries, announcements and cache expiry. -ENOMEM. */
int mdns_handle_timeout(struct mdns *m, uint64_t now_ms);
uint64_t mdns_next_timeout(const struct mdns *m);
/* Take the next datagram to send: 1 (caller frees o->data), 0 none. */
int mdns_next_output(struct mdns *m, struct mdns_output *ret);
/* Take the next event: 1 (free with mdns_event_free), 0 none. */
int mdns_next_event(struct mdns *m, struct mdns_event *ret);
void mdns_event_free(struct mdns_event *ev);
const struct mdns_cache *mdns_cache_of(const struct mdns *m);
void mdns_get_stats(const struct mdns *m, struct mdns_stats *ret);
