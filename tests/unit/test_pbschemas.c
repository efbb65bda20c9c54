/* The protobuf schemas in proto/schema produce the bytes other libp2p
 * implementations expect (checklist sections 1.2, 13, 16, 17, 18): explicit
 * zero-valued enums where peers check presence, missing proto3 scalars read
 * as zero, fixed64 nonces. These vectors pin the .proto field numbers and
 * types; a wrong number or type changes the bytes. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "autonat.pb-c.h"
#include "autonat_v2.pb-c.h"
#include "dcutr.pb-c.h"
#include "kad.pb-c.h"
#include "relay.pb-c.h"

/* Pack any message and compare with hex. */
static void packs_to(const ProtobufCMessage *m, const char *hex)
{
	size_t n = protobuf_c_message_get_packed_size(m);
	uint8_t *out = malloc(n ? n : 1);
	assert_non_null(out);
	assert_int_equal(protobuf_c_message_pack(m, out), n);
	th_assert_hex(out, n, hex);
	free(out);
}

/* Spec Ed25519 peer ID (checklist 2.4), 38 bytes. */
static const char *spec_peer =
        "0024080112201ed1e8fae2c4a144b8be8fd4b47bf3d3b34b871c3cacf6010f0e42d474fce27e";

static void test_relay_reserve_encodes_zero_type(void **state)
{
	RelayPb__HopMessage m = RELAY_PB__HOP_MESSAGE__INIT;
	m.has_type = 1;
	m.type = RELAY_PB__HOP_MESSAGE__TYPE__RESERVE;
	packs_to(&m.base, "0800");
}

static void test_relay_connect(void **state)
{
	struct buf id = th_hex(spec_peer);
	RelayPb__Peer peer = RELAY_PB__PEER__INIT;
	peer.has_id = 1;
	peer.id.data = id.data;
	peer.id.len = id.len;
	RelayPb__HopMessage m = RELAY_PB__HOP_MESSAGE__INIT;
	m.has_type = 1;
	m.type = RELAY_PB__HOP_MESSAGE__TYPE__CONNECT;
	m.peer = &peer;
	char want[256];
	snprintf(want, sizeof(want), "080112280a26%s", spec_peer);
	packs_to(&m.base, want);
	buf_free(&id);
}

static void test_relay_status_ok(void **state)
{
	RelayPb__HopMessage hop = RELAY_PB__HOP_MESSAGE__INIT;
	hop.has_type = 1;
	hop.type = RELAY_PB__HOP_MESSAGE__TYPE__STATUS;
	hop.has_status = 1;
	hop.status = RELAY_PB__STATUS__OK;
	packs_to(&hop.base, "08022864");

	RelayPb__StopMessage stop = RELAY_PB__STOP_MESSAGE__INIT;
	stop.has_type = 1;
	stop.type = RELAY_PB__STOP_MESSAGE__TYPE__STATUS;
	stop.has_status = 1;
	stop.status = RELAY_PB__STATUS__OK;
	packs_to(&stop.base, "08012064");
}

static void test_relay_missing_type_is_detectable(void **state)
{
	/* A Hop message without field 1: has_type must be false so the
	 * handler can answer MALFORMED_MESSAGE instead of assuming RESERVE. */
	struct buf b = th_hex("2864");
	RelayPb__HopMessage *m = relay_pb__hop_message__unpack(NULL, b.len, b.data);
	assert_non_null(m);
	assert_false(m->has_type);
	assert_true(m->has_status);
	relay_pb__hop_message__free_unpacked(m, NULL);
	buf_free(&b);
}

static void test_dcutr_vectors(void **state)
{
	struct buf addr = th_hex("047f000001060fa1"); /* /ip4/127.0.0.1/tcp/4001 */
	ProtobufCBinaryData obs = {addr.len, addr.data};
	DcutrPb__HolePunch c = DCUTR_PB__HOLE_PUNCH__INIT;
	c.type = DCUTR_PB__HOLE_PUNCH__TYPE__CONNECT;
	c.n_obsaddrs = 1;
	c.obsaddrs = &obs;
	packs_to(&c.base, "08641208047f000001060fa1");

	DcutrPb__HolePunch s = DCUTR_PB__HOLE_PUNCH__INIT;
	s.type = DCUTR_PB__HOLE_PUNCH__TYPE__SYNC;
	packs_to(&s.base, "08ac02");
	buf_free(&addr);

	/* type is required: a message without it does not decode. */
	struct buf bad = th_hex("1200");
	assert_null(dcutr_pb__hole_punch__unpack(NULL, bad.len, bad.data));
	buf_free(&bad);
}

static void test_kad_missing_type_is_put_value(void **state)
{
	/* go's proto3 encoder omits type = PUT_VALUE; only key is present. */
	struct buf b = th_hex("1203616263");
	KadPb__Message *m = kad_pb__message__unpack(NULL, b.len, b.data);
	assert_non_null(m);
	assert_int_equal(m->type, KAD_PB__MESSAGE__MESSAGE_TYPE__PUT_VALUE);
	assert_int_equal(m->key.len, 3);
	assert_memory_equal(m->key.data, "abc", 3);
	kad_pb__message__free_unpacked(m, NULL);
	buf_free(&b);
}

static void test_kad_find_node(void **state)
{
	struct buf id = th_hex(spec_peer);
	KadPb__Message m = KAD_PB__MESSAGE__INIT;
	m.has_type = 1;
	m.type = KAD_PB__MESSAGE__MESSAGE_TYPE__FIND_NODE;
	m.has_key = 1;
	m.key.data = id.data;
	m.key.len = id.len;
	char want[256];
	snprintf(want, sizeof(want), "08041226%s", spec_peer);
	packs_to(&m.base, want);
	buf_free(&id);
}

static void test_autonat_v1_dial_encodes_zero_type(void **state)
{
	struct buf id = th_hex(spec_peer);
	AutonatPb__Message__PeerInfo pi = AUTONAT_PB__MESSAGE__PEER_INFO__INIT;
	pi.has_id = 1;
	pi.id.data = id.data;
	pi.id.len = id.len;
	AutonatPb__Message__Dial dial = AUTONAT_PB__MESSAGE__DIAL__INIT;
	dial.peer = &pi;
	AutonatPb__Message m = AUTONAT_PB__MESSAGE__INIT;
	m.has_type = 1;
	m.type = AUTONAT_PB__MESSAGE__MESSAGE_TYPE__DIAL;
	m.dial = &dial;
	char want[256];
	snprintf(want, sizeof(want), "0800122a0a280a26%s", spec_peer);
	packs_to(&m.base, want);
	buf_free(&id);

	AutonatPb__Message__DialResponse dr = AUTONAT_PB__MESSAGE__DIAL_RESPONSE__INIT;
	dr.has_status = 1;
	dr.status = AUTONAT_PB__MESSAGE__RESPONSE_STATUS__OK;
	AutonatPb__Message r = AUTONAT_PB__MESSAGE__INIT;
	r.has_type = 1;
	r.type = AUTONAT_PB__MESSAGE__MESSAGE_TYPE__DIAL_RESPONSE;
	r.dialresponse = &dr;
	packs_to(&r.base, "08011a020800");
}

static void test_autonat_v2_nonce_is_fixed64(void **state)
{
	AutonatV2Pb__DialBack db = AUTONAT_V2_PB__DIAL_BACK__INIT;
	db.nonce = 0x0102030405060708ULL;
	/* Tag 0x09 (field 1, wire type 1) then 8 bytes little-endian. */
	packs_to(&db.base, "090807060504030201");

	/* DialBackResponse{status: OK = 0} is empty in proto3 and must decode. */
	AutonatV2Pb__DialBackResponse *r =
	        autonat_v2_pb__dial_back_response__unpack(NULL, 0, (const uint8_t *)"");
	assert_non_null(r);
	assert_int_equal(r->status, AUTONAT_V2_PB__DIAL_BACK_RESPONSE__DIAL_BACK_STATUS__OK);
	autonat_v2_pb__dial_back_response__free_unpacked(r, NULL);
}

static void test_autonat_v2_oneof(void **state)
{
	AutonatV2Pb__DialDataRequest ddr = AUTONAT_V2_PB__DIAL_DATA_REQUEST__INIT;
	ddr.addridx = 1;
	ddr.numbytes = 30000;
	AutonatV2Pb__Message m = AUTONAT_V2_PB__MESSAGE__INIT;
	m.msg_case = AUTONAT_V2_PB__MESSAGE__MSG_DIAL_DATA_REQUEST;
	m.dialdatarequest = &ddr;
	packs_to(&m.base, "1a06080110b0ea01");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_relay_reserve_encodes_zero_type),
	        cmocka_unit_test(test_relay_connect),
	        cmocka_unit_test(test_relay_status_ok),
	        cmocka_unit_test(test_relay_missing_type_is_detectable),
	        cmocka_unit_test(test_dcutr_vectors),
	        cmocka_unit_test(test_kad_missing_type_is_put_value),
	        cmocka_unit_test(test_kad_find_node),
	        cmocka_unit_test(test_autonat_v1_dial_encodes_zero_type),
	        cmocka_unit_test(test_autonat_v2_nonce_is_fixed64),
	        cmocka_unit_test(test_autonat_v2_oneof),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
