/* BIP39 mnemonics: the words a user types to pair two devices and the seed
 * derived from them. Every word is checked against the embedded list and the
 * checksum, and errors say exactly which word is wrong and what was probably
 * meant, because a person reads these messages, not a program. */
#include "bip39.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Typed words longer than this are compared on their first letters only; no
 * list word is anywhere near that long. */
#define TYPED_WORD_MAX 32

struct token {
	const char *p;
	size_t len;
};

struct parsed {
	size_t nwords;
	uint16_t idx[BIP39_MAX_WORDS];
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

int bip39_word_index(const char *word, size_t len)
{
	if (len == 0 || len > BIP39_WORD_MAX)
		return -ENOENT;
	size_t lo = 0, hi = BIP39_WORDS;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *w = bip39_wordlist[mid];
		int c = strncmp(w, word, len);
		if (c == 0 && w[len] != '\0')
			c = 1; /* w is longer, so it sorts after word */
		if (c == 0)
			return (int)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -ENOENT;
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and adjacent transpositions each cost one, the usual typing mistakes.
 * Stops early with a value over limit once the distance must exceed it, which
 * keeps a scan of all 2048 words cheap. */
static size_t edit_distance(const char *a, size_t alen, const char *b, size_t blen, size_t limit)
{
	if ((alen > blen ? alen - blen : blen - alen) > limit)
		return limit + 1;
	size_t d[TYPED_WORD_MAX + 1][BIP39_WORD_MAX + 1];
	for (size_t j = 0; j <= blen; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= alen; i++) {
		size_t row_min = d[i][0] = i;
		for (size_t j = 1; j <= blen; j++) {
			size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
			size_t v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
			if (v < row_min)
				row_min = v;
		}
		/* Row minima never decrease (a transposition from two rows back
		 * costs at least the cell it jumps over), so once a row is over
		 * the limit the result is too. */
		if (row_min > limit)
			return limit + 1;
	}
	return d[alen][blen];
}

static size_t common_prefix(const char *a, size_t alen, const char *b)
{
	size_t n = 0;
	while (n < alen && b[n] && a[n] == b[n])
		n++;
	return n;
}

/* A suggestion further away than this is more confusing than helpful. */
static size_t max_distance(size_t len)
{
	return len <= 5 ? 2 : 3;
}

int bip39_suggest(const char *word, size_t len)
{
	char w[TYPED_WORD_MAX];
	if (len > TYPED_WORD_MAX)
		len = TYPED_WORD_MAX;
	if (len == 0)
		return -ENOENT;
	for (size_t i = 0; i < len; i++)
		w[i] = lower(word[i]);
	/* Only words within max_distance() are candidates, so the scan can
	 * give up on a word as soon as it is further than that (or than the
	 * best so far). */
	size_t limit = max_distance(len), best_d = limit + 1, best_pre = 0;
	int best = -1, by_prefix = -1;
	for (int i = 0; i < BIP39_WORDS; i++) {
		const char *cand = bip39_wordlist[i];
		size_t d =
		        edit_distance(w, len, cand, strlen(cand), best_d <= limit ? best_d : limit);
		size_t pre = common_prefix(w, len, cand);
		if (d < best_d || (d == best_d && d <= limit && pre > best_pre)) {
			best = i;
			best_d = d;
			best_pre = pre;
		}
		if (pre >= 4)
			by_prefix = i;
	}
	if (best >= 0)
		return best;
	/* The list is designed so the first four letters identify a word:
	 * "abandonment" still means "abandon". */
	if (by_prefix >= 0)
		return by_prefix;
	return -ENOENT;
}

/* Copy a typed word for a message: bounded and printable, since it came from
 * the user (or a peer) and goes to a terminal or a log. */
static void printable_word(const struct token *t, char *out, size_t out_size)
{
	size_t n = 0;
	for (size_t i = 0; i < t->len && n + 4 < out_size; i++) {
		char c = t->p[i];
		out[n++] = (c >= 0x20 && c < 0x7f) ? c : '?';
	}
	out[n] = '\0';
	if (t->len > n)
		memcpy(out + n, "...", 4);
}

static int unknown_word(const struct token *t, size_t pos, struct errmsg *err)
{
	char shown[48];
	printable_word(t, shown, sizeof(shown));
	int s = bip39_suggest(t->p, t->len);
	if (s >= 0)
		return errmsg_set(err, -ENOENT,
		                  "word %zu '%s' is not a BIP39 word; did you mean '%s'?", pos,
		                  shown, bip39_wordlist[s]);
	return errmsg_set(err, -ENOENT, "word %zu '%s' is not a BIP39 word", pos, shown);
}

static int lookup_token(const struct token *t, uint16_t *ret)
{
	char w[BIP39_WORD_MAX];
	if (t->len > BIP39_WORD_MAX)
		return -ENOENT;
	for (size_t i = 0; i < t->len; i++)
		w[i] = lower(t->p[i]);
	int r = bip39_word_index(w, t->len);
	OPENSSL_cleanse(w, sizeof(w));
	if (r < 0)
		return r;
	*ret = (uint16_t)r;
	return 0;
}

static bool valid_count(size_t n)
{
	return n >= BIP39_MIN_WORDS && n <= BIP39_MAX_WORDS && n % 3 == 0;
}

/* Split into words and look each up. Unknown words are reported first (by
 * position), then a wrong count. */
static int parse_words(const char *s, struct parsed *ret, struct errmsg *err)
{
	size_t n = 0;
	const char *p = s;
	while (*p) {
		while (is_space(*p))
			p++;
		if (!*p)
			break;
		const char *start = p;
		while (*p && !is_space(*p))
			p++;
		struct token t = {start, (size_t)(p - start)};
		uint16_t idx;
		if (lookup_token(&t, &idx) < 0)
			return unknown_word(&t, n + 1, err);
		if (n < BIP39_MAX_WORDS)
			ret->idx[n] = idx;
		n++;
	}
	if (!valid_count(n))
		return errmsg_set(err, -EINVAL,
		                  "the mnemonic has %zu words; BIP39 needs 12, 15, 18, 21 or 24",
		                  n);
	ret->nwords = n;
	return 0;
}

static int sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
	unsigned int outlen = 0;
	if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 || outlen != 32)
		return -EIO;
	return 0;
}

static unsigned get_bit(const uint8_t *bytes, size_t bit)
{
	return (bytes[bit / 8] >> (7 - bit % 8)) & 1;
}

static void set_bit(uint8_t *bytes, size_t bit)
{
	bytes[bit / 8] |= (uint8_t)(1 << (7 - bit % 8));
}

int bip39_from_entropy(const uint8_t *entropy, size_t len, char out[BIP39_MNEMONIC_MAX])
{
	if (len < BIP39_ENTROPY_MIN || len > BIP39_ENTROPY_MAX || len % 4)
		return -EINVAL;
	uint8_t hash[32];
	if (sha256(entropy, len, hash) < 0)
		return -EIO;
	size_t ent_bits = len * 8, nwords = (ent_bits + ent_bits / 32) / 11;
	size_t o = 0;
	for (size_t w = 0; w < nwords; w++) {
		unsigned idx = 0;
		for (size_t b = w * 11; b < w * 11 + 11; b++) {
			unsigned bit =
			        b < ent_bits ? get_bit(entropy, b) : get_bit(hash, b - ent_bits);
			idx = idx << 1 | bit;
		}
		const char *word = bip39_wordlist[idx];
		size_t wl = strlen(word);
		if (w)
			out[o++] = ' ';
		memcpy(out + o, word, wl);
		o += wl;
	}
	out[o] = '\0';
	OPENSSL_cleanse(hash, sizeof(hash));
	return 0;
}

/* Pack the 11-bit indices into entropy followed by checksum bits and check
 * the checksum against SHA-256 of the entropy. */
static int words_to_entropy(const struct parsed *p, uint8_t out[BIP39_ENTROPY_MAX], size_t *ret_len,
                            struct errmsg *err)
{
	uint8_t bits[BIP39_ENTROPY_MAX + 1] = {0};
	size_t total = p->nwords * 11, ent_bits = total * 32 / 33, cs_bits = total - ent_bits;
	for (size_t w = 0; w < p->nwords; w++)
		for (size_t b = 0; b < 11; b++)
			if (p->idx[w] >> (10 - b) & 1)
				set_bit(bits, w * 11 + b);
	uint8_t hash[32];
	int r = sha256(bits, ent_bits / 8, hash);
	if (r < 0) {
		r = errmsg_set(err, r, "SHA-256 failed");
		goto out;
	}
	for (size_t i = 0; i < cs_bits; i++) {
		if (get_bit(bits, ent_bits + i) != get_bit(hash, i)) {
			r = errmsg_set(
			        err, -EBADMSG,
			        "the BIP39 checksum does not match: one of the words is wrong "
			        "or two are swapped");
			goto out;
		}
	}
	memcpy(out, bits, ent_bits / 8);
	*ret_len = ent_bits / 8;
out:
	OPENSSL_cleanse(bits, sizeof(bits));
	OPENSSL_cleanse(hash, sizeof(hash));
	return r;
}

int bip39_to_entropy(const char *mnemonic, uint8_t out[BIP39_ENTROPY_MAX], size_t *ret_len,
                     struct errmsg *err)
{
	struct parsed p;
	int r = parse_words(mnemonic, &p, err);
	if (r == 0)
		r = words_to_entropy(&p, out, ret_len, err);
	OPENSSL_cleanse(&p, sizeof(p));
	return r;
}

int bip39_normalize(const char *mnemonic, char out[BIP39_MNEMONIC_MAX], struct errmsg *err)
{
	uint8_t ent[BIP39_ENTROPY_MAX];
	size_t len;
	int r = bip39_to_entropy(mnemonic, ent, &len, err);
	/* Re-encoding the validated entropy yields exactly the canonical words. */
	if (r == 0)
		r = bip39_from_entropy(ent, len, out);
	OPENSSL_cleanse(ent, sizeof(ent));
	return r;
}

static int pbkdf2_sha512(const char *pw, size_t pw_len, const uint8_t *salt, size_t salt_len,
                         uint8_t out[BIP39_SEED_LEN])
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "PBKDF2", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	EVP_KDF_free(kdf);
	if (!ctx)
		return -EIO;
	unsigned int iter = BIP39_SEED_ITERATIONS;
	/* pkcs5=1 turns off SP 800-132's minimum salt length: BIP39's salt
	 * "mnemonic" is only 8 bytes. */
	int pkcs5 = 1;
	OSSL_PARAM params[] = {
	        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA512", 0),
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)pw, pw_len),
	        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len),
	        OSSL_PARAM_construct_uint(OSSL_KDF_PARAM_ITER, &iter),
	        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_PKCS5, &pkcs5),
	        OSSL_PARAM_construct_end(),
	};
	int ok = EVP_KDF_derive(ctx, out, BIP39_SEED_LEN, params);
	EVP_KDF_CTX_free(ctx);
	return ok == 1 ? 0 : -EIO;
}

int bip39_to_seed(const char *mnemonic, const void *passphrase, size_t passphrase_len,
                  uint8_t out[BIP39_SEED_LEN], struct errmsg *err)
{
	static const char prefix[] = "mnemonic";
	const size_t plen = sizeof(prefix) - 1;
	if (passphrase_len > SIZE_MAX - plen)
		return errmsg_set(err, -EINVAL, "passphrase too long");
	char words[BIP39_MNEMONIC_MAX];
	int r = bip39_normalize(mnemonic, words, err);
	if (r < 0)
		return r;
	uint8_t *salt = malloc(plen + passphrase_len);
	if (!salt) {
		OPENSSL_cleanse(words, sizeof(words));
		return errmsg_set(err, -ENOMEM, "out of memory");
	}
	memcpy(salt, prefix, plen);
	if (passphrase_len)
		memcpy(salt + plen, passphrase, passphrase_len);
	r = pbkdf2_sha512(words, strlen(words), salt, plen + passphrase_len, out);
	if (r < 0)
		errmsg_set(err, r, "PBKDF2-HMAC-SHA512 failed in OpenSSL");
	OPENSSL_cleanse(salt, plen + passphrase_len);
	free(salt);
	OPENSSL_cleanse(words, sizeof(words));
	return r;
}
