#!/usr/bin/env python3
"""Known-answer vectors for proto/devauth.c (tests/unit/test_devauth.c),
computed independently with Python's hashlib and hmac from the encodings
written in proto/devauth.h. Run it and paste the output when the format
changes (it must not change without a new protocol version)."""
import hashlib
import hmac
import struct


def field(b):
    return struct.pack(">I", len(b)) + b


def hkdf(salt, ikm, info, n=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


opener = bytes(range(0x00, 0x26))       # 38 bytes, like an Ed25519 peer ID
responder = bytes(range(0x40, 0x66))
nonce_o = bytes([0xA1] * 32)
nonce_r = bytes([0xB2] * 32)
epoch = 7
th = hashlib.sha256(b"sdnetd/device-auth/1" + field(opener) + field(responder) +
                    field(nonce_o) + field(nonce_r) + struct.pack(">Q", epoch)).digest()
print("TH", th.hex())
mac_key = bytes([0x11] * 32)
print("PROOF_OPENER", hmac.new(mac_key, b"opener proof" + th, hashlib.sha256).hexdigest())
print("PROOF_RESPONDER", hmac.new(mac_key, b"responder proof" + th, hashlib.sha256).hexdigest())

eph_p = bytes([0xC3] * 32)
eph_r = bytes([0xD4] * 32)
rth = hashlib.sha256(b"sdnetd/device-rekey/1" + field(opener) + field(responder) +
                     struct.pack(">Q", 8) + field(eph_p) + field(eph_r)).digest()
print("REKEY_TH", rth.hex())
rth_p = hashlib.sha256(b"sdnetd/device-rekey/1" + field(opener) + field(responder) +
                       struct.pack(">Q", 8) + field(eph_p) + field(b"")).digest()
print("REKEY_TH_PROPOSE", rth_p.hex())
shared = bytes([0xE5] * 32)
# proposer's view of the old keys: send, receive, send_mac, receive_mac
old = [bytes([0x21] * 32), bytes([0x22] * 32), bytes([0x23] * 32), bytes([0x24] * 32)]
ikm = shared + old[0] + old[1] + old[2] + old[3]
labels = [b"proposer-to-accepter encryption", b"accepter-to-proposer encryption",
          b"proposer-to-accepter mac", b"accepter-to-proposer mac"]
for lab in labels:
    print("REKEY", lab.decode(), hkdf(rth, ikm, b"sdnetd/device-rekey/1 " + lab).hex())
# A HELLO frame: uvarint(len) || 01 01 <epoch u64> <nonce>
hello = bytes([1, 1]) + struct.pack(">Q", epoch) + nonce_o
print("HELLO_FRAME", (bytes([len(hello)]) + hello).hex())
