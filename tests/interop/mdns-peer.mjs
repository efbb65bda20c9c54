// A js-libp2p node with @libp2p/mdns, for sdnetd's netns tests. Run it
// inside a network namespace: multicast-dns binds every interface there
// (the test's veth and lo), so nothing reaches the machine's real network.
//
//   node mdns-peer.mjs [LISTEN_MULTIADDR]      (default /ip4/0.0.0.0/tcp/0)
//
// Prints JSON lines on stdout:
//   {"event":"ready","peerId":"12D3...","addrs":[...]}
//   {"event":"discovered","peerId":"12D3...","addrs":[...]}   per mDNS find
// and exits on {"cmd":"quit"} or end of stdin. Queries every second (js's
// default is 10 s) so a test does not wait long.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { mdns } from '@libp2p/mdns'
import readline from 'node:readline'

const listen = process.argv[2] || '/ip4/0.0.0.0/tcp/0'

const node = await createLibp2p({
  addresses: { listen: [listen] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify() },
  peerDiscovery: [mdns({ interval: 1000 })],
})

const print = (obj) => process.stdout.write(JSON.stringify(obj) + '\n')

node.addEventListener('peer:discovery', (evt) => {
  print({
    event: 'discovered',
    peerId: evt.detail.id.toString(),
    addrs: evt.detail.multiaddrs.map((ma) => ma.toString()),
  })
})

print({
  event: 'ready',
  peerId: node.peerId.toString(),
  addrs: node.getMultiaddrs().map((ma) => ma.toString()),
})

let stopping = false
async function stop () {
  if (stopping) return
  stopping = true
  await node.stop()
  process.exit(0)
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', (line) => {
  try {
    if (JSON.parse(line).cmd === 'quit') stop()
  } catch {
    // not a command: ignore
  }
})
rl.on('close', stop)
