/* BIP39: the embedded wordlist is the published one, entropy <-> mnemonic
 * and seed vectors, tolerant input form, strict content with distinct errors
 * and typo suggestions. */
#include "testutil.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bip39.h"
#include "hex.h"

/* SHA-256 of the published English list (bitcoin/bips, python-mnemonic). */
#define WORDLIST_SHA256 "2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda"

static void assert_sha256_hex(const void *data, size_t len, const char *hex)
{
	uint8_t md[32];
	unsigned int n = 0;
	assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
	th_assert_hex(md, n, hex);
}

static void test_wordlist_is_published_file(void **state)
{
	/* Rebuild the file from the compiled-in array: one word per line. */
	struct buf b = BUF_INIT;
	for (int i = 0; i < BIP39_WORDS; i++) {
		assert_int_equal(buf_append_str(&b, bip39_wordlist[i]), 0);
		assert_int_equal(buf_append_u8(&b, '\n'), 0);
	}
	assert_sha256_hex(b.data, b.len, WORDLIST_SHA256);
	buf_free(&b);

	struct buf shipped = th_read_file(th_source_path("common/bip39-english.txt"));
	assert_sha256_hex(shipped.data, shipped.len, WORDLIST_SHA256);
	buf_free(&shipped);
	/* The workplace's copy, when this checkout sits next to it (CI clones
	 * may not): all three must be the published list. */
	if (access(th_shared_path("bip39-english.txt"), R_OK) == 0) {
		struct buf shared = th_read_file(th_shared_path("bip39-english.txt"));
		assert_sha256_hex(shared.data, shared.len, WORDLIST_SHA256);
		buf_free(&shared);
	}
}

static void test_word_index(void **state)
{
	for (int i = 0; i < BIP39_WORDS; i++) {
		const char *w = bip39_wordlist[i];
		assert_int_equal(bip39_word_index(w, strlen(w)), i);
	}
	assert_int_equal(bip39_word_index("abandon", 7), 0);
	assert_int_equal(bip39_word_index("zoo", 3), 2047);
	/* Prefixes and extensions of real words are not words. */
	assert_int_equal(bip39_word_index("aband", 5), -ENOENT);
	assert_int_equal(bip39_word_index("zoos", 4), -ENOENT);
	assert_int_equal(bip39_word_index("", 0), -ENOENT);
	assert_int_equal(bip39_word_index("Abandon", 7), -ENOENT);
}

static void check_pair(const char *ent_hex, const char *mnemonic)
{
	struct buf ent = th_hex(ent_hex);
	char out[BIP39_MNEMONIC_MAX];
	assert_int_equal(bip39_from_entropy(ent.data, ent.len, out), 0);
	assert_string_equal(out, mnemonic);

	uint8_t back[BIP39_ENTROPY_MAX];
	size_t back_len = 0;
	struct errmsg err = {{0}};
	int r = bip39_to_entropy(mnemonic, back, &back_len, &err);
	if (r != 0)
		fail_msg("%s: %s", mnemonic, err.text);
	assert_int_equal(back_len, ent.len);
	assert_memory_equal(back, ent.data, ent.len);
	buf_free(&ent);
}

static void test_shared_vectors(void **state)
{
	FILE *f = fopen(th_source_path("tests/data/bip39-vectors.tsv"), "r");
	assert_non_null(f);
	char line[1024];
	int n = 0;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\r\n")] = '\0';
		char *tab = strchr(line, '\t');
		assert_non_null(tab);
		*tab = '\0';
		check_pair(line, tab + 1);
		n++;
	}
	fclose(f);
	/* The file has eight vectors; none may be skipped silently. */
	assert_int_equal(n, 8);
}

struct seed_vector {
	const char *entropy, *mnemonic, *passphrase, *seed;
};

/* From the BIP39 reference vectors (trezor/python-mnemonic vectors.json,
 * passphrase "TREZOR"), covering 12, 18 and 24 words, plus the well-known
 * empty-passphrase seed of the all-zero 12-word mnemonic. */
static const struct seed_vector seed_vectors[] = {
        {"00000000000000000000000000000000",
         "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
         "about",
         "TREZOR",
         "c55257c360c07c72029aebc1b53c05ed0362ada38ead3e3e9efa3708e53495531f09a6987599d18264c1e1c"
         "92f2cf141630c7a3c4ab7c81b2f001698e7463b04"},
        {"00000000000000000000000000000000",
         "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
         "about",
         "",
         "5eb00bbddcf069084889a8ab9155568165f5c453ccb85e70811aaed6f6da5fc19a5ac40b389cd370d086206"
         "dec8aa6c43daea6690f20ad3d8d48b2d2ce9e38e4"},
        {"7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f",
         "legal winner thank year wave sausage worth useful legal winner thank yellow", "TREZOR",
         "2e8905819b8723fe2c1d161860e5ee1830318dbf49a83bd451cfb8440c28bd6fa457fe1296106559a3c8093"
         "7a1c1069be3a3a5bd381ee6260e8d9739fce1f607"},
        {"80808080808080808080808080808080",
         "letter advice cage absurd amount doctor acoustic avoid letter advice cage above",
         "TREZOR",
         "d71de856f81a8acc65e6fc851a38d4d7ec216fd0796d0a6827a3ad6ed5511a30fa280f12eb2e47ed2ac03b5"
         "c462a0358d18d69fe4f985ec81778c1b370b652a8"},
        {"ffffffffffffffffffffffffffffffff", "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong",
         "TREZOR",
         "ac27495480225222079d7be181583751e86f571027b0497b5b5d11218e0a8a13332572917f0f8e5a589620c"
         "6f15b11c61dee327651a14c34e18231052e48c069"},
        {"9e885d952ad362caeb4efe34a8e91bd2",
         "ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic", "TREZOR",
         "274ddc525802f7c828d8ef7ddbcdc5304e87ac3535913611fbbfa986d0c9e5476c91689f9c8a54fd55bd386"
         "06aa6a8595ad213d4c9c9f9aca3fb217069a41028"},
        {"c0ba5a8e914111210f2bd131f3d5e08d",
         "scheme spot photo card baby mountain device kick cradle pact join borrow", "TREZOR",
         "ea725895aaae8d4c1cf682c1bfd2d358d52ed9f0f0591131b559e2724bb234fca05aa9c02c57407e04ee9dc"
         "3b454aa63fbff483a8b11de949624b9f1831a9612"},
        {"000000000000000000000000000000000000000000000000",
         "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon "
         "abandon abandon abandon abandon abandon abandon agent",
         "TREZOR",
         "035895f2f481b1b0f01fcf8c289c794660b289981a78f8106447707fdd9666ca06da5a9a565181599b79f53"
         "b844d8a71dd9f439c52a3d7b3e8a79c906ac845fa"},
        {"6610b25967cdcca9d59875f5cb50b0ea75433311869e930b",
         "gravity machine north sort system female filter attitude volume fold club stay feature "
         "office ecology stable narrow fog",
         "TREZOR",
         "628c3827a8823298ee685db84f55caa34b5cc195a778e52d45f59bcf75aba68e4d7590e101dc414bc1bbd57"
         "37666fbbef35d1f1903953b66624f910feef245ac"},
        {"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
         "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
         "zoo vote",
         "TREZOR",
         "dd48c104698c30cfe2b6142103248622fb7bb0ff692eebb00089b32d22484e1613912f0a5b694407be899ff"
         "d31ed3992c456cdf60f5d4564b8ba3f05a69890ad"},
        {"68a79eaca2324873eacc50cb9c6eca8cc68ea5d936f98787c60c7ebc74e6ce7c",
         "hamster diagram private dutch cause delay private meat slide toddler razor book happy "
         "fancy gospel tennis maple dilemma loan word shrug inflict delay length",
         "TREZOR",
         "64c87cde7e12ecf6704ab95bb1408bef047c22db4cc7491c4271d170a1b213d20b385bc1588d9c7b38f1b39"
         "d415665b8a9030c9ec653d75e65f847d8fc1fc440"},
        {"9f6a2878b2520799a44ef18bc7df394e7061a224d2c33cd015b157d746869863",
         "panda eyebrow bullet gorilla call smoke muffin taste mesh discover soft ostrich alcohol "
         "speed nation flash devote level hobby quick inner drive ghost inside",
         "TREZOR",
         "72be8e052fc4919d2adf28d5306b5474b0069df35b02303de8c1729c9538dbb6fc2d731d5f832193cd9fb6a"
         "eecbc469594a70e3dd50811b5067f3b88b28c3e8d"},
};

static void test_seed_vectors(void **state)
{
	for (size_t i = 0; i < sizeof(seed_vectors) / sizeof(seed_vectors[0]); i++) {
		const struct seed_vector *v = &seed_vectors[i];
		check_pair(v->entropy, v->mnemonic);
		uint8_t seed[BIP39_SEED_LEN];
		struct errmsg err = {{0}};
		assert_int_equal(bip39_to_seed(v->mnemonic, v->passphrase, strlen(v->passphrase),
		                               seed, &err),
		                 0);
		th_assert_hex(seed, sizeof(seed), v->seed);
	}
}

static void test_seed_uses_canonical_form(void **state)
{
	/* Case and spacing must not change the seed: a user typing the code
	 * in capitals still pairs. */
	const struct seed_vector *v = &seed_vectors[2];
	uint8_t seed[BIP39_SEED_LEN];
	assert_int_equal(bip39_to_seed("\n  LEGAL Winner thank  year\twave sausage worth useful "
	                               "legal winner thank YELLOW  \r\n",
	                               "TREZOR", 6, seed, NULL),
	                 0);
	th_assert_hex(seed, sizeof(seed), v->seed);
	/* NULL passphrase with length 0 is the empty passphrase. */
	assert_int_equal(bip39_to_seed(seed_vectors[1].mnemonic, NULL, 0, seed, NULL), 0);
	th_assert_hex(seed, sizeof(seed), seed_vectors[1].seed);
}

static void test_tolerant_form(void **state)
{
	char out[BIP39_MNEMONIC_MAX];
	struct errmsg err = {{0}};
	assert_int_equal(bip39_normalize("  ABANDON\tabandon abandon   abandon abandon abandon\n"
	                                 "abandon abandon abandon abandon abandon About \r\n",
	                                 out, &err),
	                 0);
	assert_string_equal(out, seed_vectors[0].mnemonic);
	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len;
	assert_int_equal(bip39_to_entropy("zOo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo WRONG", ent,
	                                  &len, NULL),
	                 0);
	assert_int_equal(len, 16);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(ent[i], 0xff);
}

static void expect_error(const char *mnemonic, int code, const char *msg)
{
	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len = 12345;
	struct errmsg err = {{0}};
	assert_int_equal(bip39_to_entropy(mnemonic, ent, &len, &err), code);
	assert_int_equal(len, 12345); /* untouched on failure */
	assert_string_equal(err.text, msg);
	/* Every entry point reports the same error. */
	char out[BIP39_MNEMONIC_MAX];
	assert_int_equal(bip39_normalize(mnemonic, out, NULL), code);
	uint8_t seed[BIP39_SEED_LEN];
	assert_int_equal(bip39_to_seed(mnemonic, "", 0, seed, NULL), code);
}

static void test_unknown_word(void **state)
{
	expect_error("abandon abandon abandn abandon abandon abandon abandon abandon abandon "
	             "abandon abandon about",
	             -ENOENT, "word 3 'abandn' is not a BIP39 word; did you mean 'abandon'?");
	/* Reported before a wrong count, and named as typed. */
	expect_error("legal winner thank year wave sausage worth useful legal winner Thnak",
	             -ENOENT, "word 11 'Thnak' is not a BIP39 word; did you mean 'thank'?");
	expect_error("qqqqqqqq zoo", -ENOENT, "word 1 'qqqqqqqq' is not a BIP39 word");
	/* Overlong input and control bytes are shown bounded and printable. */
	expect_error("zoo abandonabandonabandonabandonabandonabandonabandon", -ENOENT,
	             "word 2 'abandonabandonabandonabandonabandonabandonab...' is not a BIP39 "
	             "word; did you mean 'abandon'?");
	expect_error("zoo \x1b[31mred", -ENOENT, "word 2 '?[31mred' is not a BIP39 word");
	expect_error("zoo caf\xc3\xa9", -ENOENT,
	             "word 2 'caf?"
	             "?' is not a BIP39 word");
	expect_error("zoo \xc3\xa1"
	             "bandon",
	             -ENOENT,
	             "word 2 '?"
	             "?bandon' is not a BIP39 word; did you mean 'abandon'?");
}

static void test_wrong_count(void **state)
{
	expect_error("", -EINVAL, "the mnemonic has 0 words; BIP39 needs 12, 15, 18, 21 or 24");
	expect_error(" \t\n ", -EINVAL,
	             "the mnemonic has 0 words; BIP39 needs 12, 15, 18, 21 or 24");
	expect_error("legal winner thank year wave sausage worth useful legal winner thank",
	             -EINVAL, "the mnemonic has 11 words; BIP39 needs 12, 15, 18, 21 or 24");
	expect_error("legal winner thank year wave sausage worth useful legal winner thank yellow "
	             "zoo",
	             -EINVAL, "the mnemonic has 13 words; BIP39 needs 12, 15, 18, 21 or 24");
	char many[1024] = "";
	for (int i = 0; i < 27; i++)
		strcat(many, "zoo ");
	expect_error(many, -EINVAL, "the mnemonic has 27 words; BIP39 needs 12, 15, 18, 21 or 24");
}

static void test_wrong_checksum(void **state)
{
	const char *msg = "the BIP39 checksum does not match: one of the words is wrong or two are "
	                  "swapped";
	expect_error("abandon abandon abandon abandon abandon abandon abandon abandon abandon "
	             "abandon abandon abandon",
	             -EBADMSG, msg);
	/* Two words swapped. */
	expect_error("winner legal thank year wave sausage worth useful legal winner thank yellow",
	             -EBADMSG, msg);
	expect_error("zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo "
	             "zoo zoo zoo zoo zoo",
	             -EBADMSG, msg);
}

static void test_bad_entropy_length(void **state)
{
	uint8_t ent[40] = {0};
	char out[BIP39_MNEMONIC_MAX];
	const size_t bad[] = {0, 4, 12, 15, 17, 18, 30, 33, 36, 40};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(bip39_from_entropy(ent, bad[i], out), -EINVAL);
	const size_t good[] = {16, 20, 24, 28, 32};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_int_equal(bip39_from_entropy(ent, good[i], out), 0);
		uint8_t back[BIP39_ENTROPY_MAX];
		size_t len;
		assert_int_equal(bip39_to_entropy(out, back, &len, NULL), 0);
		assert_int_equal(len, good[i]);
		assert_memory_equal(back, ent, len);
	}
}

static void test_round_trip_random(void **state)
{
	/* Pseudo-random entropy of every valid length survives both ways. */
	uint32_t x = 0x12345678;
	for (int iter = 0; iter < 200; iter++) {
		uint8_t ent[BIP39_ENTROPY_MAX];
		size_t len = 16 + 4 * (size_t)(iter % 5);
		for (size_t i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			ent[i] = (uint8_t)(x >> 16);
		}
		char out[BIP39_MNEMONIC_MAX];
		assert_int_equal(bip39_from_entropy(ent, len, out), 0);
		uint8_t back[BIP39_ENTROPY_MAX];
		size_t back_len;
		assert_int_equal(bip39_to_entropy(out, back, &back_len, NULL), 0);
		assert_int_equal(back_len, len);
		assert_memory_equal(back, ent, len);
	}
}

static const char *suggest(const char *w)
{
	int i = bip39_suggest(w, strlen(w));
	return i < 0 ? NULL : bip39_wordlist[i];
}

static void test_suggestions(void **state)
{
	assert_string_equal(suggest("abandn"), "abandon");   /* deletion */
	assert_string_equal(suggest("abanddon"), "abandon"); /* insertion */
	assert_string_equal(suggest("abnadon"), "abandon");  /* transposition */
	assert_string_equal(suggest("ABANDXN"), "abandon");  /* substitution, caps */
	assert_string_equal(suggest("zo"), "zoo");
	assert_string_equal(suggest("abandonment"), "abandon"); /* four-letter prefix */
	assert_string_equal(suggest("recieve"), "receive");
	assert_null(suggest("qqqqqqqq"));
	assert_null(suggest("xylophonist"));
	assert_null(suggest(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_wordlist_is_published_file),
	        cmocka_unit_test(test_word_index),
	        cmocka_unit_test(test_shared_vectors),
	        cmocka_unit_test(test_seed_vectors),
	        cmocka_unit_test(test_seed_uses_canonical_form),
	        cmocka_unit_test(test_tolerant_form),
	        cmocka_unit_test(test_unknown_word),
	        cmocka_unit_test(test_wrong_count),
	        cmocka_unit_test(test_wrong_checksum),
	        cmocka_unit_test(test_bad_entropy_length),
	        cmocka_unit_test(test_round_trip_random),
	        cmocka_unit_test(test_suggestions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
