// js-libp2p interop peer for sdnetd's tests.
//
// Starts a libp2p node (TCP + Noise + Yamux, identify, ping, an echo protocol)
// listening on loopback, prints one JSON line {"event":"ready",...} on stdout,
// then takes one JSON command per line on stdin and answers with one JSON line:
//   {"cmd":"dial","addr":"/ip4/127.0.0.1/tcp/N/p2p/12D3..."}
//   {"cmd":"ping","addr":"..."}            -> {"ok":true,"rtt":ms}
//   {"cmd":"peers"}                        -> {"ok":true,"peers":[...]}
//   {"cmd":"identify","peer":"12D3..."}    -> agent, protocols, listen addrs, record
//   {"cmd":"echo","addr":"...","streams":N,"bytes":M} -> bytes compared
//   {"cmd":"quit"}
// Nothing here listens beyond 127.0.0.1.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import readline from 'node:readline'

const ECHO = '/sdnetd-test/echo/1.0.0'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
})

await node.handle(ECHO, async ({ stream }) => {
  await stream.sink(stream.source)
}, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

node.addEventListener('peer:identify', (e) => {
  const d = e.detail
  out({
    event: 'identify',
    peer: d.peerId.toString(),
    agent: d.agentVersion,
    protocols: d.protocols,
    listenAddrs: d.listenAddrs.map(String),
    signedPeerRecord: d.signedPeerRecord != null,
  })
})
node.addEventListener('peer:connect', (e) => out({ event: 'connect', peer: e.detail.toString() }))
node.addEventListener('peer:disconnect', (e) => out({ event: 'disconnect', peer: e.detail.toString() }))

out({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

const target = (c) => c.addr ? multiaddr(c.addr) : peerIdFromString(c.peer)

const commands = {
  async dial (c) {
    const conn = await node.dial(target(c))
    return { peer: conn.remotePeer.toString() }
  },
  async ping (c) {
    return { rtt: await node.services.ping.ping(target(c)) }
  },
  async peers () {
    return { peers: node.getPeers().map(String) }
  },
  async identify (c) {
    const p = await node.peerStore.get(peerIdFromString(c.peer))
    return {
      agent: new TextDecoder().decode(p.metadata.get('AgentVersion') ?? new Uint8Array()),
      protocols: p.protocols,
      addrs: p.addresses.map((a) => a.multiaddr.toString()),
      hasRecord: p.peerRecordEnvelope != null,
    }
  },
  async quit () {
    setImmediate(async () => { await node.stop(); process.exit(0) })
    return {}
  },
}

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let c
  try { c = JSON.parse(line) } catch { return out({ ok: false, error: 'bad json' }) }
  const fn = commands[c.cmd]
  if (!fn) return out({ ok: false, error: `unknown command ${c.cmd}` })
  try {
    out({ ok: true, cmd: c.cmd, ...(await fn(c)) })
  } catch (err) {
    out({ ok: false, cmd: c.cmd, error: String(err?.message ?? err) })
  }
})
rl.on('close', async () => { await node.stop(); process.exit(0) })
