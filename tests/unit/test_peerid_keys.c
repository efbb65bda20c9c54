/* Peer ID derivation from PublicKey protobufs (needs keys.c): the
 * peer-ids.md keys of each type, canonical re-encoding of a non-canonical
 * sender, bad keys, and our own key's path through privkey_encode_public. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "keys.h"
#include "peerid.h"

#define ED_KEY "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define ED_B58 "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"

static void derive_is(const char *key_hex, const char *b58)
{
	struct buf key = th_hex(key_hex);
	struct peerid id;
	assert_int_equal(peerid_from_pubkey_proto(key.data, key.len, &id), 0);
	char out[PEERID_TEXT_MAX];
	assert_int_equal(peerid_to_string(&id, out, sizeof(out)), (int)strlen(b58));
	assert_string_equal(out, b58);
	struct peerid parsed;
	assert_int_equal(peerid_parse(b58, &parsed, NULL), 0);
	assert_true(peerid_equal(&id, &parsed));
	buf_free(&key);
}

static void test_spec_keys(void **state)
{
	derive_is(ED_KEY, ED_B58);
	derive_is("08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99",
	          "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY");
	derive_is("0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300fa36ae0e8"
	          "f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525e71d6851510c098e5c"
	          "47c646a597fb4dcec034e9f77c409e62",
	          "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk");
}

static void test_non_canonical_sender(void **state)
{
	/* Data before Type: the same key, so the same peer ID, because the
	 * canonical re-encoding is hashed, not the bytes received. */
	derive_is("12201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e0801",
	          ED_B58);
}

static void test_embedded_key_round_trip(void **state)
{
	struct peerid id;
	assert_int_equal(peerid_parse(ED_B58, &id, NULL), 0);
	const uint8_t *key;
	size_t len;
	assert_int_equal(peerid_embedded_pubkey(&id, &key, &len), 0);
	struct peerid again;
	assert_int_equal(peerid_from_pubkey_proto(key, len, &again), 0);
	assert_true(peerid_equal(&id, &again));
}

static void test_own_key(void **state)
{
	/* peer-ids.md private key seed; its public half is the spec key. */
	struct buf seed =
	        th_hex("7e0830617c4a7de83925dfb2694556b12936c477a0e1feb2e148ec9da60fee7d");
	struct privkey k;
	assert_int_equal(privkey_from_seed(seed.data, &k), 0);
	struct buf pub = BUF_INIT;
	assert_int_equal(privkey_encode_public(&k, &pub), 0);
	struct peerid id;
	assert_int_equal(peerid_from_canonical_pubkey(pub.data, pub.len, &id), 0);
	char out[PEERID_TEXT_MAX];
	assert_true(peerid_to_string(&id, out, sizeof(out)) > 0);
	assert_string_equal(out, ED_B58);
	privkey_wipe(&k);
	buf_free(&pub);
	buf_free(&seed);
}

static int derive_err(const char *hex)
{
	struct buf key = th_hex(hex);
	struct peerid id = {0};
	int r = peerid_from_pubkey_proto(key.data, key.len, &id);
	assert_int_equal(id.len, 0);
	buf_free(&key);
	return r;
}

static void test_bad_keys(void **state)
{
	/* Not a protobuf; a 31-byte Ed25519 key; an unknown key type. */
	assert_int_equal(derive_err("ffff"), -EBADMSG);
	assert_int_equal(
	        derive_err("0801121f1ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d4"
	                   "74fce2"),
	        -EBADMSG);
	assert_int_equal(derive_err("080512021234"), -EPROTONOSUPPORT);
	static uint8_t huge[PUBKEY_MAX_ENCODED + 1];
	struct peerid id;
	assert_int_equal(peerid_from_pubkey_proto(huge, sizeof(huge), &id), -EMSGSIZE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_keys),
	        cmocka_unit_test(test_non_canonical_sender),
	        cmocka_unit_test(test_embedded_key_round_trip),
	        cmocka_unit_test(test_own_key),
	        cmocka_unit_test(test_bad_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
