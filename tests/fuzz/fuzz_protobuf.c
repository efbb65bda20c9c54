/* Fuzz every protobuf message we decode from peers. The first byte picks the
 * message type; the rest is the wire bytes. Whatever decodes must re-encode
 * and decode again (protobuf-c keeps unknown fields, so sizes may differ only
 * by dropped duplicates; we check that the round trip succeeds). */
#include <assert.h>
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
	assert(again);
	assert(protobuf_c_message_get_packed_size(again) == n);
	protobuf_c_message_free_unpacked(again, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	free(out);
	return 0;
}
