/* Pairing codes: generation, words and the HKDF key schedule; see
 * pairing-code.h and docs/pairing.md. */
#include "pairing-code.h"

#include <errno.h>
#include <string.h>

#include "crypto.h"

/* HKDF salt: pins the derivation to this protocol and version. */
static const char kdf_salt[] = "spacedrive/pairing/1.0.0 code";
/* One info label per output: independent keys from one secret. */
static const char info_rendezvous[] = "rendezvous id";
static const char info_auth[] = "authentication key";
static const char info_record[] = "rendezvous record key";

int pairing_code_generate(uint8_t entropy[PAIRING_ENTROPY_LEN])
{
	return crypto_random(entropy, PAIRING_ENTROPY_LEN);
}

int pairing_code_to_words(const uint8_t entropy[PAIRING_ENTROPY_LEN], char out[BIP39_MNEMONIC_MAX])
{
	return bip39_from_entropy(entropy, PAIRING_ENTROPY_LEN, out);
}

int pairing_code_from_words(const char *words, uint8_t entropy[PAIRING_ENTROPY_LEN],
                            struct errmsg *err)
{
	if (!words)
		return errmsg_set(err, -EINVAL, "no pairing code given");
	uint8_t tmp[BIP39_ENTROPY_MAX];
	size_t len = 0;
	int r = bip39_to_entropy(words, tmp, &len, err);
	if (r == 0 && len != PAIRING_ENTROPY_LEN)
		r = errmsg_set(err, -EINVAL, "a pairing code has %d words, this phrase has %zu",
		               PAIRING_CODE_WORDS, len * 3 / 4);
	if (r == 0)
		memcpy(entropy, tmp, PAIRING_ENTROPY_LEN);
	crypto_wipe(tmp, sizeof(tmp));
	return r;
}

static int derive(const uint8_t *entropy, const char *info, uint8_t out[PAIRING_KEY_LEN])
{
	return crypto_hkdf_sha256(kdf_salt, strlen(kdf_salt), entropy, PAIRING_ENTROPY_LEN, info,
	                          strlen(info), out, PAIRING_KEY_LEN);
}

int pairing_keys_derive(const uint8_t entropy[PAIRING_ENTROPY_LEN], struct pairing_keys *ret)
{
	if (!entropy || !ret)
		return -EINVAL;
	struct pairing_keys k;
	int r = derive(entropy, info_rendezvous, k.rendezvous_id);
	if (r == 0)
		r = derive(entropy, info_auth, k.auth_key);
	if (r == 0)
		r = derive(entropy, info_record, k.record_key);
	if (r == 0)
		*ret = k;
	pairing_keys_wipe(&k);
	return r;
}

void pairing_keys_wipe(struct pairing_keys *k)
{
	if (k)
		crypto_wipe(k, sizeof(*k));
}
