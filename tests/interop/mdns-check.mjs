// Feed sdnetd's mDNS datagrams to js-libp2p's own code paths (dns-packet
// decode, @libp2p/mdns gotResponse / gotQuery), without sockets, and say
// what js makes of them. Exits non-zero if js would not discover us from
// our response (with or without the sd-name= device name), would take our pairing advertisement for a peer, would not
// answer our query, or would answer our pairing query.
//
//   node mdns-check.mjs DIR   (DIR: tests/data/mdns, our-*.bin)
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { multiaddr } from '@multiformats/multiaddr'
import * as query from './node_modules/@libp2p/mdns/dist/src/query.js'

const require = createRequire(import.meta.url)
const packet = require('dns-packet')
const dir = process.argv[2]
const tag = '_p2p._udp.local'
const log = Object.assign(() => {}, { error: (...a) => console.log('js error:', ...a), trace: () => {} })
const read = (f) => packet.decode(readFileSync(`${dir}/${f}`))
let ok = true
const expect = (cond, what) => { console.log(cond ? 'ok  ' : 'FAIL', what); ok &&= cond }

const found = query.gotResponse(read('our-response.bin'), 'jsnodename', tag, { log })
expect(found != null && found.multiaddrs.length === 3,
  `our response -> ${found?.id} ${found?.multiaddrs.map(String).join(' ')}`)
// With the Spacedrop device name (sd-name=): js reads only dnsaddr= strings, so it
// finds the same peer at the same three addresses.
const named = query.gotResponse(read('our-response-named.bin'), 'jsnodename', tag, { log })
expect(named != null && String(named.id) === String(found?.id) &&
  named.multiaddrs.map(String).join(' ') === found?.multiaddrs.map(String).join(' '),
  `our response with sd-name -> ${named?.id} ${named?.multiaddrs.map(String).join(' ')}`)
expect(query.gotResponse(read('our-pair-response.bin'), 'jsnodename', tag, { log }) == null,
  'our pairing advertisement is not a peer to js')
const jsAddr = multiaddr('/ip4/192.168.1.5/tcp/4001/p2p/12D3KooWHjxnw69AHLK2MRcbDfvkYZbHnwXFNhiniWZTK2eJM9bz')
for (const [f, want] of [['our-query.bin', true], ['our-pair-query.bin', false]]) {
  let answered = false
  query.gotQuery(read(f), { respond: () => { answered = true } }, 'jsnodename', [jsAddr], tag, true, { log })
  expect(answered === want, `${f}: js ${answered ? 'answers' : 'stays silent'}`)
}
process.exit(ok ? 0 : 1)
