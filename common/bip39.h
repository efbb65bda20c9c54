/* BIP39 mnemonics (English wordlist): entropy <-> words with the SHA-256
 * checksum, and mnemonic -> 64-byte seed (PBKDF2-HMAC-SHA512, 2048
 * iterations, salt "mnemonic" + passphrase).
 *
 * Parsing is strict about content and tolerant about form: words are matched
 * case-insensitively and may be separated by any run of ASCII whitespace,
 * with leading and trailing whitespace ignored. Errors (with a struct errmsg
 * that may be NULL):
 *   -ENOENT   a word is not in the list; the message names the word, its
 *             1-based position and the nearest word, e.g.
 *             "word 3 'abandn' is not a BIP39 word; did you mean 'abandon'?"
 *   -EINVAL   wrong number of words (12, 15, 18, 21 or 24 are valid)
 *   -EBADMSG  the checksum does not match (a wrong or swapped word)
 * Unknown words are reported before the word count, the count before the
 * checksum, so the first error shown is the most specific one.
 *
 * The passphrase is used as the given bytes; BIP39's NFKD normalisation is
 * not applied, which only matters for non-ASCII passphrases. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "errmsg.h"

#define BIP39_WORDS 2048
#define BIP39_ENTROPY_MIN 16
#define BIP39_ENTROPY_MAX 32
#define BIP39_MIN_WORDS 12
#define BIP39_MAX_WORDS 24
/* The longest English word has 8 letters. */
#define BIP39_WORD_MAX 8
/* 24 words of up to 8 letters, 23 spaces and a NUL. */
#define BIP39_MNEMONIC_MAX (BIP39_MAX_WORDS * (BIP39_WORD_MAX + 1))
#define BIP39_SEED_LEN 64
#define BIP39_SEED_ITERATIONS 2048

/* Generated at build time from common/bip39-english.txt; sorted. */
extern const char *const bip39_wordlist[BIP39_WORDS];

/* Index of a lower-case word of len bytes, or -ENOENT. */
int bip39_word_index(const char *word, size_t len);
/* Index of the list word nearest to word (case-insensitive edit distance
 * with transpositions), or -ENOENT when nothing is close enough to be a
 * plausible typo. */
int bip39_suggest(const char *word, size_t len);

/* Entropy of 16..32 bytes (a multiple of 4) to a mnemonic of single-space
 * separated lower-case words in out. -EINVAL for a bad length; -EIO if
 * hashing fails. */
int bip39_from_entropy(const uint8_t *entropy, size_t len, char out[BIP39_MNEMONIC_MAX]);
/* Mnemonic to entropy (out holds BIP39_ENTROPY_MAX bytes; *ret_len gets the
 * length). Errors as above. */
int bip39_to_entropy(const char *mnemonic, uint8_t out[BIP39_ENTROPY_MAX], size_t *ret_len,
                     struct errmsg *err);
/* Validate and rewrite a mnemonic in canonical form (lower case, single
 * spaces). */
int bip39_normalize(const char *mnemonic, char out[BIP39_MNEMONIC_MAX], struct errmsg *err);
/* Validate, then derive the seed from the canonical form. passphrase may be
 * NULL when passphrase_len is 0. */
int bip39_to_seed(const char *mnemonic, const void *passphrase, size_t passphrase_len,
                  uint8_t out[BIP39_SEED_LEN], struct errmsg *err);
