/* Fuzz every protobuf message we decode from peers. The first byte picks the
 * message type; the rest is the wire bytes. Whatever decodes must re-encode
 * and decode again (protobuf-c keeps unknown fields, so sizes may differ only
 * by dropped duplicates; we check that the round trip succeeds). */
#include <assert.h>
#include <stdbool.h>
#include <stdlib.h>

#include "autonat.pb-c.h"
#include "autonat_v2.pb-c.h"
#include "dcutr.pb-c.h"
#include "envelope.pb-c.h"
#include "fuzz.h"
#include "identify.pb-c.h"
#include "kad.pb-c.h"
#include "keys.pb-c.h"
#include "noise.pb-c.h"
#include "peer_record.pb-c.h"
#include "relay.pb-c.h"

static const ProtobufCMessageDescriptor *const descriptors[] = {
        &keys_pb__public_key__descriptor,
        &keys_pb__private_key__descriptor,
        &noise_pb__noise_handshake_payload__descriptor,
        &identify_pb__identify__descriptor,
        &envelope_pb__envelope__descriptor,
        &peer_record_pb__peer_record__descriptor,
        &kad_pb__message__descriptor,
        &relay_pb__hop_message__descriptor,
        &relay_pb__stop_message__descriptor,
        &relay_pb__reservation_voucher__descriptor,
        &dcutr_pb__hole_punch__descriptor,
        &autonat_pb__message__descriptor,
        &autonat_v2_pb__message__descriptor,
        &autonat_v2_pb__dial_back__descriptor,
        &autonat_v2_pb__dial_back_response__descriptor,
};

#define N_DESCRIPTORS (sizeof(descriptors) / sizeof(descriptors[0]))

/* protobuf-c (Debian 12's 1.4.1) keeps an unknown field whose tag says
 * field number 0 (spelled as a non-minimal varint, e.g. 85 00) and writes
 * it back, but refuses it when decoding again. Field 0 is invalid in any
 * schema and we read no unknown fields, so such a message only tells us
 * about the library: the re-decode is not required for it. */
static bool has_field_zero(const ProtobufCMessage *m)
{
	for (size_t i = 0; i < m->n_unknown_fields; i++)
		if (m->unknown_fields[i].tag == 0)
			return true;
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		const char *base = (const char *)m + f->offset;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)((const char *)m + f->quantifier_offset);
			ProtobufCMessage *const *v = *(ProtobufCMessage *const *const *)base;
			for (size_t k = 0; k < n; k++)
				if (v[k] && has_field_zero(v[k]))
					return true;
		} else {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)base;
			if (sub && has_field_zero(sub))
				return true;
		}
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const ProtobufCMessageDescriptor *d = descriptors[data[0] % N_DESCRIPTORS];
	ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, size - 1, data + 1);
	if (!m)
		return 0;
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(n ? n : 1);
	assert(out);
	assert(protobuf_c_message_pack(m, out) == n);
	ProtobufCMessage *again = protobuf_c_message_unpack(d, NULL, n, out);
	if (!again) {
		assert(has_field_zero(m));
		protobuf_c_message_free_unpacked(m, NULL);
		free(out);
		return 0;
	}
	assert(protobuf_c_message_get_packed_size(again) == n);
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	free(out);
	return 0;
}
