#!/usr/bin/env python3
"""Known-answer vectors for test_pairing.c, computed independently of the C
code with Python's hmac and hashlib: the key schedule for the code
00 01 .. 0f, the transcript hash and both proofs for fixed inputs, and the
four session keys for a fixed X25519 result (0x55 x 32). The encoding is the
one docs/pairing.md specifies. Run: python3 tests/unit/gen-pairing-vectors.py"""
import hmac, hashlib, struct
def hkdf(salt, ikm, info, n=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out=b''; t=b''; i=1
    while len(out)<n:
        t=hmac.new(prk, t+info+bytes([i]), hashlib.sha256).digest(); out+=t; i+=1
    return out[:n]
B58='123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'
def b58d(s):
    n=0
    for c in s: n=n*58+B58.index(c)
    b=n.to_bytes((n.bit_length()+7)//8,'big')
    pad=len(s)-len(s.lstrip('1'))
    return b'\0'*pad+b
ent=bytes(range(16))
salt=b"spacedrive/pairing/1.0.0 code"
rid=hkdf(salt,ent,b"rendezvous id"); auth=hkdf(salt,ent,b"authentication key"); rec=hkdf(salt,ent,b"rendezvous record key")
print("RID", rid.hex()); print("AUTH", auth.hex()); print("REC", rec.hex())
pi=b58d("12D3KooWBtg3aaRMjxwedh83aGiUkwSxDwUZkzuJcfaqUmo7R3pq")
pj=b58d("12D3KooWHFd1gyNYFqxt7ke9FY2VoVVWY2XSPhvL9vg2pB6wQGfa")
def f(b): return struct.pack('>I',len(b))+b
ni=b'\x11'*32; nj=b'\x22'*32; ei=b'\x33'*32; ej=b'\x44'*32; ii=b'info-i'; ij=b'info-j-longer'
t=b"spacedrive/pairing/1.0.0 transcript"+f(struct.pack('>I',1))+f(b"initiator")+f(pi)+f(b"joiner")+f(pj)+f(rid)+f(ni)+f(nj)+f(ei)+f(ej)+f(ii)+f(ij)
th=hashlib.sha256(t).digest()
print("TH", th.hex())
mi=hmac.new(auth,b"spacedrive/pairing/1.0.0 initiator proof"+th,hashlib.sha256).digest()
mj=hmac.new(auth,b"spacedrive/pairing/1.0.0 joiner proof"+th,hashlib.sha256).digest()
print("MACI", mi.hex()); print("MACJ", mj.hex())
shared=b'\x55'*32
L=b"spacedrive/pairing/1.0.0 session keys"
for p in [b" initiator-to-joiner encryption",b" joiner-to-initiator encryption",b" initiator-to-joiner mac",b" joiner-to-initiator mac"]:
    print(p.decode().strip(), hkdf(th, shared+auth, L+p).hex())
