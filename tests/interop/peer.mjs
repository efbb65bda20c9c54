// js-libp2p interop peer for sdnetd's tests.
//
// Starts a libp2p node (TCP + Noise + Yamux, identify, ping, an echo protocol)
// listening on loopback, prints one JSON line {"event":"ready",...} on stdout,
// then takes one JSON command per line on stdin and answers with one JSON line:
//   {"cmd":"dial","addr":"/ip4/127.0.0.1/tcp/N/p2p/12D3..."}
//   {"cmd":"ping","addr":"..."}            -> {"ok":true,"rtt":ms}
//   {"cmd":"peers"}                        -> {"ok":true,"peers":[...]}
//   {"cmd":"identify","peer":"12D3..."}    -> agent, protocols, listen addrs, record
//   {"cmd":"echo","peer":"12D3..","streams":N,"bytes":M}
//        -> N concurrent streams on ECHO, each sends M bytes and reads them
//           back; {"ok":true,"streams":N,"bytes":M,"ms":..} when all match
//   {"cmd":"abort","peer":"12D3..","mode":"close|reset|goaway","after":M}
//        -> starts a large echo and, after M bytes came back,
//           closes the stream, resets it, or closes the whole connection; reports what
//           the transfer saw ({"ok":true,"error":...})
//           mode "kill" aborts the connection at once (no GoAway, socket
//           destroyed); mode "notify" only prints {"event":"abort-point"} and
//           lets the transfer run on, so the test can break it from the
//           other side
//   A command may carry "id"; the answer repeats it, so a driver can run
//   several commands at once and match the answers.
//   {"cmd":"hangup","peer":"12D3.."}       -> close every connection to it
//   {"cmd":"stall","peer":..,"bytes":M}  -> {"sid":n}: a stream that writes
//        M bytes on ECHO and never reads; {"cmd":"stallstat","sid":n} -> how
//        many bytes it got out so far; {"cmd":"stallend","sid":n} resets it
//   {"cmd":"watch","bytes":N}              -> the next inbound echo stream to
//        pass N bytes prints {"event":"echo-bytes","bytes":n}
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
import { createHash } from 'node:crypto'

const ECHO = '/sdnetd-test/echo/1.0.0'

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: { identify: identify(), ping: ping() },
})

// After {"cmd":"watch","bytes":N}, the first echo stream to pass N bytes
// prints {"event":"echo-bytes"}: proof that a transfer towards us is under way.
let watchAt = 0
async function * watched (source) {
  let n = 0
  for await (const chunk of source) {
    n += chunk.byteLength
    if (watchAt > 0 && n >= watchAt) {
      watchAt = 0
      out({ event: 'echo-bytes', bytes: n })
    }
    yield chunk
  }
}

await node.handle(ECHO, async ({ stream }) => {
  // A peer resetting or hanging up mid-echo is a test case, not a crash.
  await stream.sink(watched(stream.source)).catch((err) => {
    out({ event: 'echo-error', error: String(err?.message ?? err) })
  })
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
// Per connection (a peer may briefly have two, e.g. after simultaneous dials).
const connEvent = (kind) => (e) => out({
  event: kind,
  peer: e.detail.remotePeer.toString(),
  id: e.detail.id,
  direction: e.detail.direction,
})
node.addEventListener('connection:open', connEvent('conn-open'))
node.addEventListener('connection:close', connEvent('conn-close'))

out({ event: 'ready', peerId: node.peerId.toString(), addrs: node.getMultiaddrs().map(String) })

const target = (c) => c.addr ? multiaddr(c.addr) : peerIdFromString(c.peer)

// Deterministic test bytes: chunk i of stream s is filled from (s, i), so a
// receiver can tell a misplaced chunk from a lost one.
const CHUNK = 64 * 1024
function chunkOf (s, i, len) {
  const b = new Uint8Array(len)
  let x = (s * 2654435761 + i * 40503 + 1) >>> 0
  for (let k = 0; k < len; k++) {
    x = (x * 1103515245 + 12345) >>> 0
    b[k] = x >>> 24
  }
  return b
}

async function * produce (s, total, sent) {
  for (let off = 0, i = 0; off < total; off += CHUNK, i++) {
    const c = chunkOf(s, i, Math.min(CHUNK, total - off))
    sent.update(c)
    yield c
  }
}

// One echo round trip on a fresh stream; resolves with the byte count.
async function echoOne (conn, s, total, onProgress) {
  const stream = await conn.newStream(ECHO, { runOnLimitedConnection: false })
  const sent = createHash('sha256')
  const got = createHash('sha256')
  let n = 0
  const reader = (async () => {
    for await (const chunk of stream.source) {
      const bytes = chunk.subarray ? chunk.subarray() : chunk
      got.update(bytes)
      n += bytes.length
      if (onProgress) onProgress(n, stream, conn)
    }
  })()
  // Wait for both halves, so a broken transfer reports what the reading
  // side saw (reset, closed early) rather than only the writer's symptom.
  const [w, r] = await Promise.allSettled([stream.sink(produce(s, total, sent)), reader])
  const why = (p) => String(p.reason?.message ?? p.reason)
  if (r.status === 'rejected') throw new Error(`stream ${s}: read: ${why(r)}`)
  if (n !== total) {
    const wr = w.status === 'rejected' ? `; write: ${why(w)}` : ''
    throw new Error(`stream ${s}: echoed ${n} of ${total} bytes${wr}`)
  }
  if (w.status === 'rejected') throw new Error(`stream ${s}: write: ${why(w)}`)
  if (sent.digest('hex') !== got.digest('hex')) throw new Error(`stream ${s}: bytes differ`)
  return n
}

const stalls = new Map()
let nextStall = 1

async function connTo (c) {
  return node.dial(target(c))
}

const commands = {
  async echo (c) {
    const conn = await connTo(c)
    const t0 = Date.now()
    const streams = c.streams ?? 1
    await Promise.all(Array.from({ length: streams }, (_, s) => echoOne(conn, s, c.bytes)))
    return { streams, bytes: c.bytes, ms: Date.now() - t0 }
  },
  async abort (c) {
    const conn = await connTo(c)
    let done = false
    try {
      await echoOne(conn, 0, c.bytes ?? 64 * 1024 * 1024, (n, stream, cn) => {
        if (done || n < c.after) return
        done = true
        if (c.mode === 'close') stream.close().catch(() => {})
        else if (c.mode === 'reset') stream.abort(new Error('test reset'))
        else if (c.mode === 'goaway') cn.close().catch(() => {})
        else if (c.mode === 'kill') cn.abort(new Error('test hangup'))
        else out({ event: 'abort-point', id: c.id, bytes: n })
      })
      return { error: null }
    } catch (err) {
      return { error: String(err?.message ?? err) }
    }
  },
  // A stream that writes and never reads: the far end must stop echoing
  // once our receive window is full, and we must stop once its is.
  async stall (c) {
    const conn = await connTo(c)
    const stream = await conn.newStream(ECHO)
    const sid = nextStall++
    const st = { sent: 0, error: null, stream }
    stalls.set(sid, st)
    stream.sink((async function * () {
      for (let i = 0; st.sent < c.bytes; i++) {
        const b = chunkOf(0, i, Math.min(CHUNK, c.bytes - st.sent))
        yield b
        st.sent += b.length
      }
    })()).catch((err) => { st.error = String(err?.message ?? err) })
    return { sid }
  },
  async stallstat (c) {
    const st = stalls.get(c.sid)
    return { sent: st.sent, error: st.error }
  },
  async stallend (c) {
    stalls.get(c.sid).stream.abort(new Error('test stall end'))
    stalls.delete(c.sid)
    return {}
  },
  async watch (c) {
    watchAt = c.bytes
    return {}
  },
  async hangup (c) {
    await node.hangUp(peerIdFromString(c.peer))
    return {}
  },
  async dial (c) {
    const conn = await node.dial(target(c))
    return { peer: conn.remotePeer.toString(), conn: conn.id, direction: conn.direction }
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

// An aborted transfer rejects promises nobody awaits any more (the sink of a
// reset stream); report them, do not die.
process.on('unhandledRejection', (err) => {
  out({ event: 'unhandled', error: String(err?.message ?? err) })
})

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let c
  try { c = JSON.parse(line) } catch { return out({ ok: false, error: 'bad json' }) }
  const fn = commands[c.cmd]
  if (!fn) return out({ ok: false, error: `unknown command ${c.cmd}` })
  try {
    out({ ok: true, cmd: c.cmd, id: c.id, ...(await fn(c)) })
  } catch (err) {
    out({ ok: false, cmd: c.cmd, id: c.id, error: String(err?.message ?? err) })
  }
})
rl.on('close', async () => { await node.stop(); process.exit(0) })
