/* Peer IDs without key decoding: the peer-ids.md vectors in both text forms
 * and in every multibase, round trips, derivation from canonical key bytes,
 * and each way a peer ID text or binary can be wrong. The tests that decode
 * PublicKey protobufs (keys.c) live in test_peerid_keys.c. */
#include "testutil.h"

#include <errno.h>
#include <string.h>

#include "peerid.h"

#define ED_B58 "12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq"
#define ED_CID "bafzaajaiaejcahwr5d5ofrfbis4l5d6uwr57hu5tjodrypfm6yaq6dsc2r2pzyt6"
#define ED_HEX "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e"
#define QM_B58 "QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
#define QM_CID "bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe"
#define QM_HEX "12209dff3b17d74cf4d38a50d8b6383e92d181a10395a5e73a726dcccbd21bf6f0b9"

static struct peerid parse_ok(const char *text)
{
	struct peerid id;
	struct errmsg e = {{0}};
	int r = peerid_parse(text, &id, &e);
	if (r != 0)
		fail_msg("%s: %d %s", text, r, e.text);
	return id;
}

static void both_forms(const char *b58, const char *cid, const char *hex)
{
	struct peerid a = parse_ok(b58), b = parse_ok(cid);
	th_assert_hex(a.bytes, a.len, hex);
	assert_true(peerid_equal(&a, &b));
	char out[PEERID_TEXT_MAX];
	assert_int_equal(peerid_to_string(&b, out, sizeof(out)), (int)strlen(b58));
	assert_string_equal(out, b58);
	assert_int_equal(peerid_to_cid_string(&a, out, sizeof(out)), (int)strlen(cid));
	assert_string_equal(out, cid);
	struct peerid c;
	assert_int_equal(peerid_from_bytes(a.bytes, a.len, &c), 0);
	assert_true(peerid_equal(&a, &c));
}

static void test_spec_vectors(void **state)
{
	/* peer-ids.md: the same sha2-256 peer in both forms. */
	both_forms(QM_B58, QM_CID, QM_HEX);
	/* The spec Ed25519 key's identity peer ID (checklist §2.4). */
	both_forms(ED_B58, ED_CID, ED_HEX);
	struct peerid id = parse_ok("12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA");
	th_assert_hex(id.bytes, id.len,
	              "0024080112202ffa35a99d3a3cfbb17bb7c1dc5561b18a8dcca4df38dc613ea859c37eb1"
	              "336b");
}

static void test_other_multibases(void **state)
{
	/* Peer-ID CIDs may come in any multibase (base36 in DNS labels). */
	static const char *forms[] = {
	        "k51qzi5uqu5dgy8qsq67hbz73jqkw87l3fgf4a91qb0d9b5173tir7n4vxk1oe",
	        "z5AanNVJCxnGuh8TJu4nye3dE3NbxAd8FB9cr46uVagyFPuibMxok2R",
	        "f01720024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e",
	        "mAXIAJAgBEiAe0ej64sShRLi+j9S0e/PTs0uHHDys9gEPDkLUdPzifg",
	        "BAFZAAJAIAEJCAHWR5D5OFRFBIS4L5D6UWR57HU5TJODRYPFM6YAQ6DSC2R2PZYT6",
	};
	struct peerid want = parse_ok(ED_B58);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct peerid got = parse_ok(forms[i]);
		assert_true(peerid_equal(&got, &want));
	}
}

static void test_from_canonical_pubkey(void **state)
{
	char out[PEERID_TEXT_MAX];
	struct peerid id;
	/* Ed25519 (36 bytes) and secp256k1 (37): identity. */
	struct buf ed =
	        th_hex("080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	assert_int_equal(peerid_from_canonical_pubkey(ed.data, ed.len, &id), 0);
	assert_int_equal(peerid_to_string(&id, out, sizeof(out)), (int)strlen(ED_B58));
	assert_string_equal(out, ED_B58);
	struct buf secp = th_hex(
	        "08021221037777e994e452c21604f91de093ce415f5432f701dd8cd1a7a6fea0e630bfca99");
	assert_int_equal(peerid_from_canonical_pubkey(secp.data, secp.len, &id), 0);
	assert_true(peerid_to_string(&id, out, sizeof(out)) > 0);
	assert_string_equal(out, "16Uiu2HAmLhLvBoYaoZfaMUKuibM6ac163GwKY74c5kiSLg5KvLpY");
	/* ECDSA P-256 (95 bytes): sha2-256. */
	struct buf ec =
	        th_hex("0803125b3059301306072a8648ce3d020106082a8648ce3d03010703420004de3d300f"
	               "a36ae0e8f5d530899d83abab44abf3161f162a4bc901d8e6ecda020e8b6d5f8da30525"
	               "e71d6851510c098e5c47c646a597fb4dcec034e9f77c409e62");
	assert_int_equal(peerid_from_canonical_pubkey(ec.data, ec.len, &id), 0);
	assert_true(peerid_to_string(&id, out, sizeof(out)) > 0);
	assert_string_equal(out, "QmVMT29id3TUASyfZZ6k9hmNyc2nYabCo4uMSpDw4zrgDk");
	/* The 42/43-byte boundary. */
	uint8_t key[43] = {0x08, 0x01};
	assert_int_equal(peerid_from_canonical_pubkey(key, 42, &id), 0);
	assert_int_equal(id.len, 44);
	assert_int_equal(id.bytes[0], 0x00);
	assert_int_equal(peerid_from_canonical_pubkey(key, 43, &id), 0);
	assert_int_equal(id.len, 34);
	assert_int_equal(id.bytes[0], 0x12);
	buf_free(&ed);
	buf_free(&secp);
	buf_free(&ec);
}

static void test_embedded_pubkey(void **state)
{
	struct peerid id = parse_ok(ED_B58);
	const uint8_t *key;
	size_t len;
	assert_int_equal(peerid_embedded_pubkey(&id, &key, &len), 0);
	th_assert_hex(key, len,
	              "080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e");
	assert_ptr_equal(key, id.bytes + 2);
	id = parse_ok(QM_B58);
	assert_int_equal(peerid_embedded_pubkey(&id, &key, &len), -ENOKEY);
}

static void test_equal(void **state)
{
	struct peerid a = parse_ok(ED_B58), b = parse_ok(QM_B58), c = a;
	assert_true(peerid_equal(&a, &c));
	assert_false(peerid_equal(&a, &b));
	c.bytes[c.len - 1] ^= 1;
	assert_false(peerid_equal(&a, &c));
}

static void expect_err(const char *text, int code, const char *msg)
{
	struct peerid id = {0};
	struct errmsg e = {{0}};
	assert_int_equal(peerid_parse(text, &id, &e), code);
	if (strstr(e.text, msg) == NULL)
		fail_msg("%s: got '%s', want '%s'", text, e.text, msg);
	assert_int_equal(id.len, 0);
}

static void test_bad_text(void **state)
{
	expect_err("", -EINVAL, "peer ID: empty");
	expect_err(NULL, -EINVAL, "peer ID: empty");
	/* Bad characters are named with their position. */
	expect_err("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3p0", -EINVAL,
	           "peer ID: base58btc: invalid character '0' at position 52");
	expect_err("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5l", -EINVAL,
	           "peer ID: base58btc: invalid character 'l' at position 46");
	expect_err("12D3KooW Btg3", -EINVAL,
	           "peer ID: base58btc: invalid character ' ' at position 9");
	expect_err("bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xq1e", -EINVAL,
	           "peer ID: base32: invalid character '1' at position 58");
	expect_err("bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqx", -EINVAL,
	           "peer ID: base32: impossible length 57");
	/* Neither bare base58 nor a known multibase. */
	expect_err("QXYZ", -EPROTONOSUPPORT, "peer ID: multibase: prefix 'Q' is reserved");
	expect_err("2oue7xUr5fXRBj3oZDFHsqJoNToQrnUNbL3gpaCrSEFVk6Fh", -EPROTONOSUPPORT,
	           "peer ID: multibase: unknown or unsupported prefix '2'");
	char big[PEERID_TEXT_MAX + 1];
	memset(big, 'a', sizeof(big) - 1);
	big[PEERID_TEXT_MAX] = '\0';
	expect_err(big, -EMSGSIZE, "peer ID: longer than 127 characters");
}

static void test_bad_bytes(void **state)
{
	/* Truncated identity key and bytes after the multihash. */
	expect_err("12dsY1rR2R9RxqkTcD7P6dzp2T9iY9vzmJ2vd6XSx", -EBADMSG,
	           "peer ID: multihash: truncated identity digest (36 bytes declared, 28 present)");
	expect_err("16L9G1aFq55LPCWWYdvD6x66MrN5WwKYk7SfbCZrkRJLyaiXK9U6s", -EBADMSG,
	           "peer ID: multihash: 1 unexpected bytes after the digest");
	expect_err("bafzbeie5745rpv2m6tjyuugywy4d5ewrqgqq", -EBADMSG,
	           "peer ID: multihash: truncated sha2-256 digest (32 bytes declared, 18 present)");
	/* Wrong multihash code (sha1) inside a CID. */
	expect_err("bafzbcfaaaebagbafaydqqcikbmga2dqpcaireey", -EPROTONOSUPPORT,
	           "peer ID: multihash: hash code 0x11 is not supported");
	/* Identity digests must be an inline key of 1..42 bytes. */
	expect_err("1EzQo9bp95DWS1KZoWz9cgWMkNkuRgE1Vbb6CoFKNkuZMs6h4XrGuKaa2tn8v", -EBADMSG,
	           "peer ID: identity multihash holds 43 bytes; an inline key has 1 to 42");
	expect_err("11", -EBADMSG, "identity multihash holds 0 bytes");
	/* CIDs that are not peer IDs. */
	expect_err("bajzbeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe", -EINVAL,
	           "peer ID: CID version 2, a peer ID CID must be version 1");
	expect_err("bafybeie5745rpv2m6tjyuugywy4d5ewrqgqqhfnf445he3omzpjbx5xqxe", -EPROTONOSUPPORT,
	           "peer ID: CID codec 0x70 is not libp2p-key (0x72), so not a peer ID");
	expect_err("b", -EBADMSG, "peer ID: truncated or malformed CID version");
	expect_err("bae", -EBADMSG, "peer ID: truncated or malformed CID codec");
}

static void test_from_bytes_errors(void **state)
{
	struct peerid id;
	struct buf b = th_hex("1114000102030405060708090a0b0c0d0e0f10111213");
	assert_int_equal(peerid_from_bytes(b.data, b.len, &id), -EPROTONOSUPPORT);
	buf_free(&b);
	b = th_hex("1220aabb");
	assert_int_equal(peerid_from_bytes(b.data, b.len, &id), -EBADMSG);
	assert_int_equal(peerid_from_bytes(NULL, 0, &id), -EBADMSG);
	buf_free(&b);
}

static void test_print_errors(void **state)
{
	struct peerid id = parse_ok(ED_B58), empty = {0};
	char out[PEERID_TEXT_MAX];
	assert_int_equal(peerid_to_string(&id, out, strlen(ED_B58)), -ENOBUFS);
	assert_int_equal(peerid_to_string(&id, out, strlen(ED_B58) + 1), (int)strlen(ED_B58));
	assert_int_equal(peerid_to_cid_string(&id, out, strlen(ED_CID)), -ENOBUFS);
	assert_int_equal(peerid_to_string(&empty, out, sizeof(out)), -EINVAL);
	assert_int_equal(peerid_to_cid_string(&empty, out, sizeof(out)), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_spec_vectors),
	        cmocka_unit_test(test_other_multibases),
	        cmocka_unit_test(test_from_canonical_pubkey),
	        cmocka_unit_test(test_embedded_pubkey),
	        cmocka_unit_test(test_equal),
	        cmocka_unit_test(test_bad_text),
	        cmocka_unit_test(test_bad_bytes),
	        cmocka_unit_test(test_from_bytes_errors),
	        cmocka_unit_test(test_print_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
