// Capture the exact datagrams js-libp2p's mDNS sends (@libp2p/mdns query
// and answer code, multicast-dns, dns-packet) without opening any socket:
// multicast-dns gets a fake socket that records what would be sent.
//
//   node mdns-capture.mjs OUTDIR
// writes OUTDIR/js-query.bin, OUTDIR/js-response.bin and OUTDIR/js-info.txt
// (peer ID and peer name). tests/data/mdns holds one such capture; the
// peer ID and name are random on every run.
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import { writeFileSync } from 'node:fs'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as query from './node_modules/@libp2p/mdns/dist/src/query.js'
import { stringGen } from './node_modules/@libp2p/mdns/dist/src/utils.js'

const require = createRequire(import.meta.url)
const multicastDNS = require('multicast-dns')

const outDir = process.argv[2]
const sent = []
const sock = new EventEmitter()
sock.send = (msg, off, len, port, addr, cb) => {
  sent.push(Buffer.from(msg.subarray(off, off + len)))
  if (cb) cb()
}
sock.bind = () => {}
sock.close = (cb) => { if (cb) cb() }
const mdns = multicastDNS({ socket: sock, bind: false, multicast: false })

const id = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
const name = stringGen(63) // what MulticastDNS uses for its peer name
const tag = '_p2p._udp.local'
const addrs = [
  `/ip4/192.168.1.5/tcp/4001/p2p/${id}`,
  `/ip4/192.168.1.5/udp/4001/quic-v1/p2p/${id}`,
  `/ip6/fd00::5/tcp/4001/p2p/${id}`,
  `/ip4/192.168.1.5/tcp/4002/ws/p2p/${id}`,
  `/ip4/8.8.8.8/tcp/4001/p2p/${id}` // public: js leaves it out
].map(a => multiaddr(a))

clearInterval(query.queryLAN(mdns, tag, 1e6))
query.gotQuery({ questions: [{ name: tag, type: 'PTR' }] }, mdns, name, addrs, tag, true)
await new Promise(resolve => setTimeout(resolve, 50))
writeFileSync(`${outDir}/js-query.bin`, sent[0])
writeFileSync(`${outDir}/js-response.bin`, sent[1])
writeFileSync(`${outDir}/js-info.txt`, `${id}\n${name}\n`)
console.log(id.toString(), name, sent.map(b => b.length))
