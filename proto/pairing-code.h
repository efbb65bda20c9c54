/* Pairing codes and their key schedule (docs/pairing.md).
 *
 * A code is PAIRING_ENTROPY_LEN bytes from the CSPRNG, shown to people as 12
 * BIP39 words. Everything the protocol needs comes from those bytes through
 * HKDF-SHA256 (salt: a fixed protocol label; ikm: the entropy) with one info
 * label per key:
 *   rendezvous_id  the only value ever published (mDNS advertisement, DHT
 *                  key), so a joiner finds the initiator holding its code;
 *   auth_key       proves knowledge of the code and feeds the session keys;
 *   record_key     encrypts the DHT rendezvous record (a later issue).
 * HKDF outputs under different labels are independent pseudo-random values:
 * the published rendezvous id tells nothing about auth_key or record_key.
 *
 * Errors: -EINVAL bad arguments, -EIO OpenSSL failure; word parsing as in
 * bip39.h. The entropy and the keys are secrets: wipe them. */
#pragma once

#include <stdint.h>

#include "bip39.h"
#include "errmsg.h"

#define PAIRING_ENTROPY_LEN 16
#define PAIRING_CODE_WORDS 12
#define PAIRING_KEY_LEN 32
#define PAIRING_RENDEZVOUS_LEN 32

struct pairing_keys {
	uint8_t rendezvous_id[PAIRING_RENDEZVOUS_LEN];
	uint8_t auth_key[PAIRING_KEY_LEN];
	uint8_t record_key[PAIRING_KEY_LEN];
};

/* Fresh code entropy from the CSPRNG. */
int pairing_code_generate(uint8_t entropy[PAIRING_ENTROPY_LEN]);
/* The 12 words (single spaces, lower case) of a code. */
int pairing_code_to_words(const uint8_t entropy[PAIRING_ENTROPY_LEN], char out[BIP39_MNEMONIC_MAX]);
/* Parse the words a person typed (any case and spacing). -ENOENT names an
 * unknown word, its position and the nearest list word; -EINVAL a count
 * other than 12 (a valid 24-word BIP39 phrase is not a pairing code);
 * -EBADMSG a checksum mismatch (a wrong or swapped word). */
int pairing_code_from_words(const char *words, uint8_t entropy[PAIRING_ENTROPY_LEN],
                            struct errmsg *err);
/* The key schedule. *ret is written only on success. */
int pairing_keys_derive(const uint8_t entropy[PAIRING_ENTROPY_LEN], struct pairing_keys *ret);
void pairing_keys_wipe(struct pairing_keys *k);
